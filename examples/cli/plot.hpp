// zipml-train --plot: the precision-convergence trade-off drawn by gnuplot. Two panels in one
// SVG or PNG file: the training loss per epoch and the test metric (accuracy or RMSE) per
// epoch, one curve per precision. gnuplot runs on a data file and a script written to a
// temporary folder; its exit status and its output file are checked.
#ifndef ZIPML_EXAMPLES_CLI_PLOT_HPP
#define ZIPML_EXAMPLES_CLI_PLOT_HPP

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/core.h>

#include "common.hpp"
#include "zipml/zipml.hpp"

extern char** environ;

namespace zipml::cli {

//! One precision's curves: the history of its run.
struct PlotCurve {
  std::string label;
  History history;
};

//! The gnuplot that --plot uses; Error with the install command when there is none.
inline fs::path find_gnuplot() {
  if (auto p = find_in_path("gnuplot")) return *p;
  throw Error("--plot needs gnuplot: sudo apt-get install gnuplot-nox");
}

//! ".svg" or ".png" (lower case) for a --plot file name; Error otherwise.
inline std::string plot_format(const fs::path& out) {
  std::string ext = out.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".svg" && ext != ".png")
    throw Error("--plot " + out.string() + ": the file name must end in .svg or .png");
  return ext;
}

namespace detail {

//! Dark, distinct line colours that read on white (one per precision).
inline constexpr const char* kColors[] = {"#1f4e9c", "#d9480f", "#2b8a3e", "#c2255c", "#5f3dc4", "#495057"};

//! A gnuplot single-quoted string: only ' needs escaping, as ''.
inline std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

//! A temporary folder, removed with everything in it when this goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "zipml-plot-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw Error("--plot: cannot create a temporary folder in " + fs::temp_directory_path().string());
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

//! Runs `program script` with stdout and stderr into `log`; returns the exit status (-1 if it
//! could not run or was killed).
inline int run(const fs::path& program, const fs::path& script, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string prog = program.string(), arg = script.string();
  char* argv[] = {prog.data(), arg.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, prog.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace detail

//! Draws `curves` into `out` (.svg or .png). `metric` is "accuracy" or "rmse"; `on_test` says
//! whether the metric was measured on a test set; `title` heads the picture.
inline void plot_history(const fs::path& out, const std::vector<PlotCurve>& curves, const std::string& metric,
                         bool on_test, const std::string& title) {
  const std::string format = plot_format(out);
  const fs::path gnuplot = find_gnuplot();
  detail::TempDir dir;
  const fs::path data = dir.path() / "history.dat", script = dir.path() / "plot.gp", log = dir.path() / "gnuplot.log";
  const fs::path tmp_out = temporary_beside(out);

  {
    std::ofstream f(data);
    for (const auto& c : curves) {
      f << "# " << c.label << "\n# epoch train_loss metric bits\n";
      for (const auto& e : c.history.epochs) {
        const std::optional<double> m = on_test ? e.test_metric : e.train_metric;
        f << e.epoch << ' ' << fmt::format("{}", e.train_loss) << ' ' << (m ? fmt::format("{}", *m) : "NaN") << ' '
          << e.precision << '\n';
      }
      f << "\n\n"; // a new gnuplot data block (index) per precision
    }
    f.close(); // the buffered tail is written here: check after it, or a full disk goes unnoticed
    if (!f) throw Error("--plot: cannot write " + data.string());
  }

  const std::string metric_name = std::string(on_test ? "test " : "training ") + metric;
  std::ostringstream gp;
  if (format == ".svg") {
    gp << "set terminal svg size 1200,500 dynamic font 'sans,13' background rgb 'white'\n";
  } else {
    gp << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
          "  set terminal pngcairo size 1200,500 font 'sans,11' background rgb 'white'\n"
          "} else {\n"
          "  set terminal png size 1200,500 background rgb 'white'\n"
          "}\n";
  }
  gp << "set termoption noenhanced\n"
     << "set output " << detail::quoted(tmp_out.string()) << "\n"
     << "set multiplot layout 1,2 title " << detail::quoted(title) << "\n"
     << "set grid\nset key inside opaque box samplen 2\nset xlabel 'epoch'\n"
     << "set xtics 1\nif (" << (curves.empty() ? 0 : curves.front().history.epochs.size()) << " > 15) set xtics autofreq\n"
     << "set style data linespoints\nset pointsize 0.8\n";
  std::string loss_plot, metric_plot;
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const std::string sep = i == 0 ? "plot " : ", ";
    const std::string common = fmt::format("{} index {} ", detail::quoted(data.string()), i);
    const std::string tail = fmt::format("title {} lw 2 lc rgb '{}' pt {}", detail::quoted(curves[i].label),
                                         detail::kColors[i % std::size(detail::kColors)], i % 6 + 5);
    loss_plot += sep + common + "using 1:2 " + tail;
    metric_plot += sep + common + "using 1:3 " + tail;
    // A precision schedule: each epoch's bits written at its point of both curves.
    const auto& ep = curves[i].history.epochs;
    const bool scheduled = std::any_of(ep.begin(), ep.end(), [&](const auto& e) { return e.precision != ep.front().precision; });
    if (scheduled) {
      const std::string labels = fmt::format("(sprintf('%d bit', $4)) with labels offset 0,1 font ',9' tc rgb '{}' notitle",
                                             detail::kColors[i % std::size(detail::kColors)]);
      loss_plot += ", " + common + "using 1:2:" + labels;
      metric_plot += ", " + common + "using 1:3:" + labels;
    }
  }
  // Losses and RMSE fall (legend top right), accuracy rises (legend bottom right).
  gp << "set title 'training loss'\nset ylabel 'mean loss per sample'\nset key top right\n" << loss_plot << "\n"
     << "set title " << detail::quoted(metric_name) << "\nset ylabel " << detail::quoted(metric) << "\n"
     << (metric == "accuracy" ? "set key bottom right\n" : "set key top right\n") << metric_plot << "\n"
     << "unset multiplot\nset output\n";
  {
    std::ofstream f(script);
    f << gp.str();
    f.close();
    if (!f) throw Error("--plot: cannot write " + script.string());
  }

  const int status = detail::run(gnuplot, script, log);
  std::error_code ec;
  const bool made = fs::is_regular_file(tmp_out, ec) && fs::file_size(tmp_out, ec) > 0;
  if (status != 0 || !made) {
    fs::remove(tmp_out, ec);
    std::ifstream in(log);
    std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!msg.empty() && std::isspace(static_cast<unsigned char>(msg.back()))) msg.pop_back();
    if (msg.size() > 600) msg = "..." + msg.substr(msg.size() - 600);
    throw Error(fmt::format("--plot: {} {} (exit status {}){}{}", gnuplot.string(),
                            status == 0 ? "made no picture" : "failed", status, msg.empty() ? "" : ":\n", msg));
  }
  fs::rename(tmp_out, out, ec);
  if (ec) {
    const std::string why = ec.message(); // before remove() reuses ec
    fs::remove(tmp_out, ec);
    throw Error("--plot: cannot write " + out.string() + ": " + why);
  }
}

} // namespace zipml::cli

#endif
