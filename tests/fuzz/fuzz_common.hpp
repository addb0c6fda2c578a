// zipml fuzzing — what the fuzz targets share: a private temporary folder, file writers
// (plain and gzip through zlib) and a check that aborts with a message.
//
// Each target is a header (target_<name>.hpp) with one entry function
//   int zipml::fuzz::<name>(const std::uint8_t* data, std::size_t size)
// that libFuzzer drives (fuzz_<name>.cpp, clang -fsanitize=fuzzer) and that replay.cpp runs
// over the corpora and regression inputs without clang. An entry function returns 0, swallows
// zipml::Error (the documented way to refuse input) and lets anything else escape: another
// exception, a sanitizer report or a failed ZIPML_FUZZ_CHECK is a finding.
#ifndef ZIPML_TESTS_FUZZ_COMMON_HPP
#define ZIPML_TESTS_FUZZ_COMMON_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>
#include <zlib.h>

namespace zipml::fuzz {

//! The input being replayed (replay.cpp sets it), printed when a check fails.
inline const char* current_input = nullptr;

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "zipml fuzz check failed: %s (%s:%d)%s%s\n", what, file, line,
               current_input != nullptr ? " on input " : "", current_input != nullptr ? current_input : "");
  std::fflush(stderr);
  std::abort();
}

#define ZIPML_FUZZ_CHECK(cond)                                                                       \
  do {                                                                                             \
    if (!(cond)) ::zipml::fuzz::check_failed(#cond, __FILE__, __LINE__);                           \
  } while (0)

//! A folder of this process's own under $TMPDIR, removed at exit.
class TempDir {
 public:
  TempDir() {
    std::error_code ec;
    path_ = std::filesystem::temp_directory_path(ec);
    if (ec) path_ = "/tmp";
    path_ /= "zipml-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(path_, ec);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline const TempDir& temp_dir() {
  static const TempDir dir;
  return dir;
}

//! Writes `size` bytes as they are. The harness itself failing is a broken setup, not a
//! finding about zipml: it aborts with its own message.
inline void write_plain(const std::filesystem::path& p, const void* data, std::size_t size) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (f == nullptr) check_failed("the fuzz harness cannot create its temporary file", __FILE__, __LINE__);
  if (size > 0 && std::fwrite(data, 1, size, f) != size)
    check_failed("the fuzz harness cannot write its temporary file", __FILE__, __LINE__);
  if (std::fclose(f) != 0) check_failed("the fuzz harness cannot close its temporary file", __FILE__, __LINE__);
}

//! Writes `size` bytes gzip-compressed (zlib's gzwrite, fastest level).
inline void write_gzip(const std::filesystem::path& p, const void* data, std::size_t size) {
  gzFile f = gzopen(p.c_str(), "wb1");
  if (f == nullptr) check_failed("the fuzz harness cannot create its gzip file", __FILE__, __LINE__);
  std::size_t done = 0;
  while (done < size) {
    const unsigned chunk = static_cast<unsigned>(size - done < (1u << 20) ? size - done : (1u << 20));
    if (gzwrite(f, static_cast<const unsigned char*>(data) + done, chunk) != static_cast<int>(chunk))
      check_failed("the fuzz harness cannot write its gzip file", __FILE__, __LINE__);
    done += chunk;
  }
  if (gzclose(f) != Z_OK) check_failed("the fuzz harness cannot close its gzip file", __FILE__, __LINE__);
}

} // namespace zipml::fuzz

#endif
