// libFuzzer driver for zipml::fuzz::stream_file (target_stream_file.hpp). Built by scripts/fuzz.sh
// with clang++ -fsanitize=fuzzer,address,undefined; replay.cpp runs the same entry without clang.
#include <cstddef>
#include <cstdint>

#include "target_stream_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return zipml::fuzz::stream_file(data, size);
}
