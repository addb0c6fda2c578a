// A rank whose backend fails in the middle of training (as a board that stops answering): run
// by test_failing_rank.sh under mpirun -np 2. Rank 1's backend throws in its second epoch while
// rank 0 waits in the averaging's allreduce; the program does what zipml-train does with a
// rank's own error (print it with the rank, then Collective::abort), and the job must end.
#include <cstdio>
#include <string>

#include "../unit/support.hpp"
#include "zipml/distributed/mpi.hpp"
#include "zipml/zipml.hpp"

namespace {

//! The CPU backend, except on rank 1 in epoch 2 (a stand-in for a failing board; named so).
struct FailsOnRank1 {
  static constexpr std::string_view name = "cpu-that-fails-on-rank-1";
  static constexpr bool supports(zipml::Arithmetic a) noexcept { return zipml::Cpu::supports(a); }
  int rank = 0;
  zipml::Cpu cpu{};
  template <zipml::ModelPolicy M>
  zipml::PassLoss run_epoch(const M& model, const zipml::TrainJob& job, std::size_t epoch, zipml::ModelState& state) const {
    if (rank == 1 && epoch == 1) throw zipml::Error("failing backend (a test's stand-in for a board): no answer in epoch 2");
    return cpu.run_epoch(model, job, epoch, state);
  }
};

} // namespace

int main(int argc, char** argv) {
  zipml::distributed::Mpi group(&argc, &argv);
  const auto ds = zipml::test::blobs(4000, 20, 1);
  zipml::Options o;
  o.epochs = 5;
  o.step = 1.0f / 128;
  FailsOnRank1 backend;
  backend.rank = group.rank();
  zipml::Sgd<zipml::L2Svm, zipml::Float32, FailsOnRank1> sgd(o, {}, backend);
  sgd.distribute(group);
  try {
    sgd.fit(ds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "failing_rank: error: %s: %s\n", group.describe().c_str(), e.what());
    std::fflush(stderr);
    group.abort(1);
  }
  std::printf("rank %d finished training (it should not have)\n", group.rank());
  return 0;
}
