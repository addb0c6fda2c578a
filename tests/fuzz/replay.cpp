// Replays every fuzz target over its seed corpus and its regression inputs, without libFuzzer:
// the fuzz targets' inputs as a plain test (suite `unit`), built by any C++20 compiler.
//
//   fuzz_replay [FUZZ_DIR [TARGET...]]     FUZZ_DIR defaults to tests/fuzz of the source tree
//
// For each target T it runs zipml::fuzz::T over FUZZ_DIR/corpus/T/* and FUZZ_DIR/regressions/T/*.
// Each input runs in a child process. It fails when anything but zipml::Error escapes the
// entry function, or when it crashes, trips a check or a sanitizer, or asks for more than
// 2 GiB in one allocation (libFuzzer's default -malloc_limit_mb). Every failing input is named;
// the exit status is 1 if any failed.
#include <algorithm>
#include <cerrno>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target_idx.hpp"
#include "target_libsvm.hpp"
#include "target_model.hpp"
#include "target_packed.hpp"
#include "target_stream_file.hpp"

#ifndef ZIPML_FUZZ_DIR
#define ZIPML_FUZZ_DIR "tests/fuzz"
#endif

namespace fs = std::filesystem;

// ---- one allocation above the limit is a finding, as under libFuzzer -----------------------
namespace {
constexpr std::size_t kMaxAllocation = std::size_t{2048} << 20;
std::atomic<bool> g_armed{false};

void* checked_alloc(std::size_t n) {
  if (n > kMaxAllocation && g_armed.load(std::memory_order_relaxed)) {
    char msg[160];
    const int len = std::snprintf(msg, sizeof msg, "zipml fuzz replay: one allocation of %zu bytes (limit %zu) on input ",
                                  n, kMaxAllocation);
    (void)!::write(2, msg, static_cast<std::size_t>(len));
    const char* in = zipml::fuzz::current_input ? zipml::fuzz::current_input : "?";
    (void)!::write(2, in, std::strlen(in));
    (void)!::write(2, "\n", 1);
    std::abort();
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
} // namespace

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete" // free() of our own operator new's malloc
#endif
void* operator new(std::size_t n) { return checked_alloc(n); }

// xtensor allocates through xsimd's aligned allocator, which calls posix_memalign, not operator
// new: check those requests too. Under AddressSanitizer its allocator does it instead (its
// runtime owns posix_memalign; max_allocation_size_mb makes a larger request fatal).
#if defined(__SANITIZE_ADDRESS__)
#define ZIPML_REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZIPML_REPLAY_ASAN 1
#endif
#endif
#ifdef ZIPML_REPLAY_ASAN
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=2048:allocator_may_return_null=0"; }
#else
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  if (n > kMaxAllocation && g_armed.load(std::memory_order_relaxed)) (void)checked_alloc(n); // reports, aborts
  void* p = ::memalign(alignment, n == 0 ? 1 : n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
#endif
void* operator new[](std::size_t n) { return checked_alloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

struct Target {
  const char* name;
  int (*run)(const std::uint8_t*, std::size_t);
};

constexpr Target kTargets[] = {
    {"idx", &zipml::fuzz::idx},
    {"libsvm", &zipml::fuzz::libsvm},
    {"packed", &zipml::fuzz::packed},
    {"model", &zipml::fuzz::model},
    {"stream_file", &zipml::fuzz::stream_file},
};

std::string g_current; // keeps current_input alive

extern "C" void on_fatal_signal(int sig) {
  static const char pre[] = "\nzipml fuzz replay: fatal signal while running input ";
  (void)!::write(2, pre, sizeof pre - 1);
  const char* in = zipml::fuzz::current_input ? zipml::fuzz::current_input : "?";
  (void)!::write(2, in, std::strlen(in));
  (void)!::write(2, "\n", 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::vector<fs::path> inputs_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.rfind('.', 0) != 0 && n != "README.md") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

int main(int argc, char** argv) {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_fatal_signal);
  const fs::path root = argc > 1 ? fs::path(argv[1]) : fs::path(ZIPML_FUZZ_DIR);
  std::vector<std::string> only(argv + std::min(argc, 2), argv + argc);
  if (!fs::is_directory(root / "corpus")) {
    std::fprintf(stderr, "fuzz_replay: no corpus folder in '%s'\n", root.c_str());
    return 2;
  }
  int failed = 0;
  std::size_t total = 0;
  for (const Target& t : kTargets) {
    if (!only.empty() && std::find(only.begin(), only.end(), t.name) == only.end()) continue;
    std::size_t counts[2] = {0, 0};
    const char* kinds[2] = {"corpus", "regressions"};
    for (int k = 0; k < 2; ++k) {
      for (const fs::path& p : inputs_in(root / kinds[k] / t.name)) {
        std::ifstream f(p, std::ios::binary);
        const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
        g_current = p.string();
        zipml::fuzz::current_input = g_current.c_str();
        // Each input in a child process: a crash fails that input, the others still run.
        std::fflush(stdout);
        std::fflush(stderr);
        const pid_t child = ::fork();
        if (child < 0) {
          std::perror("fuzz_replay: fork");
          return 2;
        }
        if (child == 0) {
          g_armed = true;
          try {
            // libFuzzer hands the input in a buffer of exactly its size: so does the replay.
            std::vector<std::uint8_t> exact(bytes);
            t.run(exact.empty() ? nullptr : exact.data(), exact.size());
          } catch (const std::exception& e) {
            g_armed = false;
            std::fprintf(stderr, "uncaught exception: %s\n", e.what());
            std::fflush(stderr);
            std::exit(3);
          } catch (...) {
            g_armed = false;
            std::fprintf(stderr, "uncaught non-standard exception\n");
            std::fflush(stderr);
            std::exit(3);
          }
          g_armed = false;
          std::fflush(stdout);
          std::exit(0); // not _exit: static destructors remove the temporary folder, LeakSanitizer runs
        }
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        {
          // What a crashed child could not clean up (fuzz_common.hpp names it by pid).
          std::error_code ec;
          fs::remove_all(fs::temp_directory_path(ec) / ("zipml-fuzz-" + std::to_string(child)), ec);
        }
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          if (WIFSIGNALED(status))
            std::fprintf(stderr, "FAIL %s %s: killed by signal %d (%s)\n", t.name, p.c_str(), WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
          else
            std::fprintf(stderr, "FAIL %s %s: exit status %d\n", t.name, p.c_str(), WEXITSTATUS(status));
          ++failed;
        }
        ++counts[k];
      }
    }
    zipml::fuzz::current_input = nullptr;
    std::printf("%-11s %4zu corpus + %zu regression inputs replayed\n", t.name, counts[0], counts[1]);
    if (counts[0] == 0) {
      std::fprintf(stderr, "FAIL %s: empty corpus in '%s'\n", t.name, (root / "corpus" / t.name).c_str());
      ++failed;
    }
    total += counts[0] + counts[1];
  }
  std::printf("%zu inputs, %d failed\n", total, failed);
  return failed == 0 ? 0 : 1;
}
