// libFuzzer driver for zipml::fuzz::packed (target_packed.hpp). Built by scripts/fuzz.sh with
// clang++ -fsanitize=fuzzer,address,undefined; replay.cpp runs the same entry without clang.
#include <cstddef>
#include <cstdint>

#include "target_packed.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return zipml::fuzz::packed(data, size);
}
