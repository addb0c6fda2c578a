// A one-line progress bar for zipml-train: across all epochs of all precisions of a run, with
// the current precision and epoch, samples per second and the time left. It is redrawn four
// times a second during a pass (the fill inside an epoch is estimated from the previous
// epoch's duration), and other output is printed above it. Disabled, it only prints.
#ifndef ZIPML_EXAMPLES_CLI_PROGRESS_HPP
#define ZIPML_EXAMPLES_CLI_PROGRESS_HPP

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/core.h>

#include "zipml/options.hpp"

namespace zipml::cli {

class Progress {
 public:
  using clock = std::chrono::steady_clock;

  //! `enabled`: draw the bar (stdout is a terminal and no --quiet). `precisions` x `epochs`
  //! passes in all, over `samples` training samples each.
  Progress(bool enabled, std::size_t precisions, std::size_t epochs, std::size_t samples)
      : enabled_(enabled && precisions * epochs > 0), epochs_(epochs), total_(precisions * epochs), samples_(samples) {
    if (enabled_) ticker_ = std::jthread([this](std::stop_token stop) { tick(stop); });
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  //! A precision starts training (its packing counts towards its first epoch).
  void begin(std::string label) {
    std::lock_guard lock(mutex_);
    label_ = std::move(label);
    epoch_ = 0;
    precision_seconds_ = 0.0;
    epoch_start_ = clock::now();
  }

  //! An epoch of the current precision is done.
  void epoch_done(const EpochStats& e) {
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    const double wall = std::chrono::duration<double>(now - epoch_start_).count();
    epoch_start_ = now;
    epoch_ = e.epoch;
    ++done_;
    precision_seconds_ += wall;
    run_seconds_ += wall;
    rate_ = e.seconds > 0.0 ? static_cast<double>(samples_) / e.seconds : 0.0;
    draw();
  }

  //! The current precision is done: one that stopped early (--tol) counts as all its epochs,
  //! so that the bar and the time left go on from the next precision's share.
  void end_precision() {
    std::lock_guard lock(mutex_);
    if (epochs_ > 0 && done_ % epochs_ != 0) done_ += epochs_ - done_ % epochs_;
    draw();
  }

  //! Prints `text` (whole lines) above the bar.
  void print(const std::string& text) {
    std::lock_guard lock(mutex_);
    erase();
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    draw();
  }

  //! Removes the bar for good (before the summary).
  void finish() {
    if (!enabled_) return;
    ticker_.request_stop();
    if (ticker_.joinable()) ticker_.join();
    std::lock_guard lock(mutex_);
    erase();
    enabled_ = false;
  }

 private:
  void tick(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
      wake_.wait_for(lock, stop, std::chrono::milliseconds(250), [] { return false; });
      if (!stop.stop_requested()) draw();
    }
  }

  static std::string duration(double s) {
    const long t = static_cast<long>(s + 0.5);
    if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
    return fmt::format("{}:{:02}", t / 60, t % 60);
  }

  static std::string rate(double r) {
    if (r >= 1e6) return fmt::format("{:.1f}M", r / 1e6);
    if (r >= 1e3) return fmt::format("{:.0f}k", r / 1e3);
    return fmt::format("{:.0f}", r);
  }

  static std::size_t terminal_width() {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
  }

  // Called with the mutex held.
  void draw() {
    if (!enabled_ || label_.empty()) return;
    const double in_epoch = std::chrono::duration<double>(clock::now() - epoch_start_).count();
    // Per-epoch time: this precision's mean, else the run's, else unknown.
    const std::size_t done_here = epoch_;
    const double per_epoch = done_here > 0 ? precision_seconds_ / static_cast<double>(done_here)
                             : done_ > 0   ? run_seconds_ / static_cast<double>(done_)
                                           : 0.0;
    const double partial = per_epoch > 0.0 && done_ < total_ ? std::min(0.95, in_epoch / per_epoch) : 0.0;
    const double fraction = std::min(1.0, (static_cast<double>(done_) + partial) / static_cast<double>(total_));
    const std::string eta =
        per_epoch > 0.0 ? duration(std::max(0.0, static_cast<double>(total_ - done_) * per_epoch - in_epoch)) : "-:--";
    const std::size_t width = 24, filled = static_cast<std::size_t>(fraction * width + 0.5);
    std::string line = fmt::format(" {:>7} epoch {:>2}/{}  [{}{}] {:3.0f}%  {} samples/s  ETA {}", label_,
                                   std::min(epoch_ + 1, epochs_), epochs_, std::string(filled, '#'),
                                   std::string(width - filled, '.'), 100.0 * fraction,
                                   rate_ > 0.0 ? rate(rate_) : std::string("-"), eta);
    const std::size_t columns = terminal_width();
    if (line.size() >= columns) line.resize(columns > 1 ? columns - 1 : 0);
    std::fputs(("\r" + line + "\033[K").c_str(), stdout);
    std::fflush(stdout);
    drawn_ = true;
  }

  void erase() {
    if (drawn_) std::fputs("\r\033[K", stdout);
    drawn_ = false;
  }

  bool enabled_;
  std::size_t epochs_, total_, samples_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::string label_;
  std::size_t epoch_ = 0, done_ = 0;
  double precision_seconds_ = 0.0, run_seconds_ = 0.0, rate_ = 0.0;
  clock::time_point epoch_start_ = clock::now();
  bool drawn_ = false;
  std::jthread ticker_; // last: joined before the members it reads are destroyed
};

} // namespace zipml::cli

#endif
