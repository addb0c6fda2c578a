// zipml — the process group on MPI (Open MPI on Debian: libopenmpi-dev, openmpi-bin).
//
// Include this header only in a program built with MPI (Meson: dependency('mpi'); the zipml
// library itself never includes it). Mpi starts MPI if nobody has, and ends it if it started it;
// its collectives are MPI_Allreduce on MPI_COMM_WORLD (sums of doubles: MPI_Reduce to rank 0
// and MPI_Bcast, so that every rank holds rank 0's bits). MPI's default error handler
// (MPI_ERRORS_ARE_FATAL) ends the job on a failed call; none of these calls returns an error.
#ifndef ZIPML_DISTRIBUTED_MPI_HPP
#define ZIPML_DISTRIBUTED_MPI_HPP

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <vector>

// the C API only: Open MPI's and MPICH's deprecated C++ bindings stay out
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include "zipml/distributed/collective.hpp"
#include "zipml/error.hpp"

namespace zipml::distributed {

class Mpi final : public Collective {
 public:
  //! Joins the job mpirun started (or a job of one process without mpirun).
  Mpi(int* argc = nullptr, char*** argv = nullptr) {
    int started = 0;
    MPI_Initialized(&started);
    if (!started) {
      MPI_Init(argc, argv);
      owns_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~Mpi() override {
    int ended = 0;
    MPI_Finalized(&ended);
    if (owns_ && !ended) MPI_Finalize();
  }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;

  //! Whether this process was started by mpirun (or another MPI launcher): then a program
  //! should join the job; without one, it may run on its own without starting MPI at all.
  [[nodiscard]] static bool launched() noexcept {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS"})
      if (std::getenv(v) != nullptr) return true;
    return false;
  }

  [[nodiscard]] int rank() const noexcept override { return rank_; }
  [[nodiscard]] int size() const noexcept override { return size_; }

  void sum(std::span<std::int64_t> values) override {
    for_pieces(values, [](std::int64_t* p, int n) { MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD); });
  }
  void sum(std::span<double> values) override {
    for_pieces(values, [this](double* p, int n) {
      if (rank_ == 0) MPI_Reduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
      else MPI_Reduce(p, nullptr, n, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
      MPI_Bcast(p, n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    });
  }
  void max(std::span<double> values) override {
    for_pieces(values, [](double* p, int n) { MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); });
  }
  [[nodiscard]] std::vector<float> gather(std::span<const float> values) override {
    if (values.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw Error("mpi: " + std::to_string(values.size()) + " values are too many to gather in one call");
    int mine = static_cast<int>(values.size());
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(counts.size());
    MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    long long total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += counts[r];
      if (total > std::numeric_limits<int>::max()) throw Error("mpi: too many values to gather in one call");
    }
    std::vector<float> out(static_cast<std::size_t>(total));
    MPI_Allgatherv(values.data(), mine, MPI_FLOAT, out.data(), counts.data(), offsets.data(), MPI_FLOAT, MPI_COMM_WORLD);
    return out;
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code); // not reached: MPI_Abort does not return
  }

 private:
  //! MPI counts are ints: a long span goes in pieces of at most 2^30 elements.
  template <class T, class F>
  static void for_pieces(std::span<T> values, F&& f) {
    constexpr std::size_t kPiece = std::size_t{1} << 30;
    for (std::size_t i = 0; i < values.size(); i += kPiece)
      f(values.data() + i, static_cast<int>(std::min(kPiece, values.size() - i)));
  }

  int rank_ = 0;
  int size_ = 1;
  bool owns_ = false;
};

} // namespace zipml::distributed

#endif
