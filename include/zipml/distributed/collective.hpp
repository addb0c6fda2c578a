// zipml — the process group data-parallel training runs in: its rank, its size, and the few
// collective operations model averaging needs.
//
// Sgd talks to a Collective, not to MPI: the library builds and trains without MPI (Solo, one
// process), and distributed/mpi.hpp implements the same interface on MPI_COMM_WORLD. Every
// rank must make the same calls in the same order (as MPI requires); Sgd does, whatever the
// backend, because every decision that follows from a collective (the stop epoch, a
// divergence) is taken from values that are identical on every rank.
#ifndef ZIPML_DISTRIBUTED_COLLECTIVE_HPP
#define ZIPML_DISTRIBUTED_COLLECTIVE_HPP

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "zipml/error.hpp"

namespace zipml::distributed {

//! An error that every rank of the group raises alike, at the same point, from values they
//! share (a file whose checksum the ranks computed together fails, the averaged model
//! diverges). A program reports it once (rank 0) and every rank exits normally; any other
//! Error is one rank's own and ends the whole job (Collective::abort).
class GroupError : public Error {
 public:
  //! `report`: this rank is one that says it (Sgd: rank 0; agree: each rank that failed).
  GroupError(const std::string& what, bool report) : Error(what), report_(report) {}
  [[nodiscard]] bool report() const noexcept { return report_; }

 private:
  bool report_;
};

//! The ranks of one training job.
class Collective {
 public:
  virtual ~Collective() = default;
  [[nodiscard]] virtual int rank() const noexcept = 0;
  [[nodiscard]] virtual int size() const noexcept = 0;
  //! Element-wise sum over the ranks, in place; exact (integers), so every rank gets the same.
  virtual void sum(std::span<std::int64_t> values) = 0;
  //! Element-wise sum over the ranks, in place; rank 0's result is sent to every rank, so that
  //! all hold the same bits whatever order the reduction added in.
  virtual void sum(std::span<double> values) = 0;
  //! Element-wise maximum over the ranks, in place (exact: every rank gets the same).
  virtual void max(std::span<double> values) = 0;
  //! Every rank's `values`, concatenated in rank order (the counts may differ between ranks).
  [[nodiscard]] virtual std::vector<float> gather(std::span<const float> values) = 0;
  //! Ends every rank of the job now with exit status `code` (a rank's own error: the others
  //! may be waiting in a collective call and would otherwise wait forever).
  [[noreturn]] virtual void abort(int code) = 0;

  [[nodiscard]] bool is_root() const noexcept { return rank() == 0; }
  //! "rank 1 of 2" (for messages).
  [[nodiscard]] std::string describe() const {
    return "rank " + std::to_string(rank()) + " of " + std::to_string(size());
  }
};

//! Runs `step` on every rank, then the ranks tell each other whether it failed, so that one
//! rank's Error ends every rank at the same point, without MPI_Abort: if any rank failed (alone:
//! its Error as it is),
//! every rank throws a GroupError — a failed rank's with its own message ("rank 1 of 2: ..."
//! when not all failed) to report, the others' silent. A GroupError from `step` (every rank
//! has it, at the same point) passes through unchanged. For steps whose collective calls, if
//! any, every rank reaches alike.
template <class Step>
void agree(Collective& group, Step&& step) {
  std::string mine;
  std::exception_ptr error;
  try {
    step();
  } catch (const GroupError&) {
    throw;
  } catch (const Error& e) {
    error = std::current_exception();
    mine = e.what();
  }
  const bool failed = error != nullptr;
  if (group.size() == 1) {
    if (failed) std::rethrow_exception(error); // alone: the Error as it was
    return;
  }
  std::vector<std::int64_t> flags(static_cast<std::size_t>(group.size()), 0);
  flags[static_cast<std::size_t>(group.rank())] = failed ? 1 : 0;
  group.sum(flags);
  std::int64_t count = 0;
  int first = -1;
  for (int r = 0; r < group.size(); ++r)
    if (flags[static_cast<std::size_t>(r)] != 0) {
      ++count;
      if (first < 0) first = r;
    }
  if (count == 0) return;
  if (count == group.size()) throw GroupError(mine, group.is_root()); // (the same on all, as a rule)
  if (failed) throw GroupError(group.describe() + ": " + mine, true);
  throw GroupError("rank " + std::to_string(first) + " failed", false);
}

//! One process on its own: every collective is the identity. Sgd without a group behaves as
//! with a Solo group, bit for bit.
class Solo final : public Collective {
 public:
  [[nodiscard]] int rank() const noexcept override { return 0; }
  [[nodiscard]] int size() const noexcept override { return 1; }
  void sum(std::span<std::int64_t>) override {}
  void sum(std::span<double>) override {}
  void max(std::span<double>) override {}
  [[nodiscard]] std::vector<float> gather(std::span<const float> values) override {
    return {values.begin(), values.end()};
  }
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

} // namespace zipml::distributed

#endif
