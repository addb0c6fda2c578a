// What several unit tests share: a temporary folder of their own.
#ifndef ZIPML_TESTS_UNIT_SUPPORT_HPP
#define ZIPML_TESTS_UNIT_SUPPORT_HPP

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include <unistd.h>

// ZIPML_TEST_ASAN: built with AddressSanitizer (gcc or clang), whose runtime owns the allocator
// and the address space, so allocation probes and address-space limits do not apply.
#if defined(__SANITIZE_ADDRESS__)
#define ZIPML_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZIPML_TEST_ASAN 1
#endif
#endif

namespace zipml::test {

//! A fresh folder under the system's temp folder, removed at the end of the test (made
//! writable first, for tests that take the permission away).
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> k{0};
    path = std::filesystem::temp_directory_path() /
           ("zipml-unit-test-" + std::to_string(::getpid()) + "-" + std::to_string(k++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path, ec);
  }
  //! Writes `text` to the file `name` in the folder and returns its path.
  [[nodiscard]] std::filesystem::path file(const std::string& name, std::string_view text) const {
    const std::filesystem::path p = path / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

} // namespace zipml::test

#endif
