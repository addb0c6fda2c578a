// Reads zipml-train's --summary JSON and checks the accuracy per precision against the
// thresholds given on the command line as NAME=MIN (e.g. q4=0.81). Exit 1 names what failed.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: check_summary SUMMARY.json NAME=MIN...\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "check_summary: cannot read %s\n", argv[1]);
    return 1;
  }
  const auto doc = nlohmann::json::parse(in);
  std::map<std::string, double> got;
  for (const auto& run : doc.at("runs")) got[run.at("precision").get<std::string>()] = run.at("test_accuracy").get<double>();
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string spec = argv[i];
    const auto eq = spec.find('=');
    const std::string name = spec.substr(0, eq);
    const double min = std::stod(spec.substr(eq + 1));
    if (!got.count(name)) {
      std::printf("%-8s missing from the summary\n", name.c_str());
      ++failed;
      continue;
    }
    const bool ok = got[name] >= min;
    std::printf("%-8s test accuracy %.4f (need >= %.2f) %s\n", name.c_str(), got[name], min, ok ? "ok" : "FAILED");
    failed += !ok;
  }
  return failed ? 1 : 0;
}
