// The data-parallel pieces that need no MPI: the averaging rules (docs/ENGINE.md), the shards,
// the rank seeds, a packed stream file's rows mapped on their own, and Sgd in a group of one
// (the same model bit for bit as without a group). tests/mpi runs them on two ranks.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>

#include "support.hpp"
#include "zipml/distributed/average.hpp"
#include "zipml/distributed/collective.hpp"
#include "zipml/distributed/load.hpp"
#include "zipml/distributed/shard.hpp"
#include "zipml/io/stream_file.hpp"
#include "zipml/io/stream_rows.hpp"
#include "zipml/zipml.hpp"

using namespace zipml;
namespace dist = zipml::distributed;

namespace {

using test::blobs;

} // namespace

TEST_CASE("engine averaging rounds sum / P to the nearest integer, ties to even") {
  CHECK(dist::mean_q23(10, 2) == 5);
  CHECK(dist::mean_q23(11, 2) == 6);  // 5.5 -> 6 (even)
  CHECK(dist::mean_q23(9, 2) == 4);   // 4.5 -> 4 (even)
  CHECK(dist::mean_q23(-9, 2) == -4); // -4.5 -> -4 (even)
  CHECK(dist::mean_q23(-11, 2) == -6);
  CHECK(dist::mean_q23(-1, 2) == 0);  // -0.5 -> 0
  CHECK(dist::mean_q23(1, 3) == 0);   // 0.33
  CHECK(dist::mean_q23(2, 3) == 1);   // 0.67
  CHECK(dist::mean_q23(-2, 3) == -1);
  constexpr std::int64_t big = std::numeric_limits<std::int32_t>::max();
  CHECK(dist::mean_q23(4 * big, 4) == big);
  CHECK(dist::mean_q23(4 * -(big + 1), 4) == -(big + 1));
}

TEST_CASE("float averaging: a shared exponent, an exact integer sum, one rounding") {
  // 2^62 / P bounds every fixed-point number, so P of them sum without overflow
  for (int p : {2, 3, 4, 7, 64}) {
    for (double m : {1e-30, 0.75, 1.0, 3.5, 1e30}) {
      const int e = dist::fixed_exponent(m, p);
      CHECK(std::ldexp(m, e) * p <= std::ldexp(1.0, 62));
      CHECK(std::ldexp(m, e) * p > std::ldexp(1.0, 60)); // and keeps most of the bits
    }
  }
  // values with few bits average exactly
  const int e = dist::fixed_exponent(3.0, 2);
  CHECK(dist::mean_fixed(dist::to_fixed(3.0f, e) + dist::to_fixed(-1.0f, e), 2, e) == 1.0f);
  CHECK(dist::mean_fixed(dist::to_fixed(0.25f, e) + dist::to_fixed(0.5f, e), 2, e) == 0.375f);
  // one rank: the identity for every weight within 2^38 of the largest
  const int e1 = dist::fixed_exponent(2.0, 1);
  for (float w : {1.9999999f, -1.2345678f, 0.1f, 3e-7f, -2.0f})
    CHECK(dist::mean_fixed(dist::to_fixed(w, e1), 1, e1) == w);
}

TEST_CASE("shards partition the rows in rank order; rank seeds differ, rank 0 keeps the seed") {
  for (std::size_t n : {0u, 1u, 5u, 60000u, 60001u}) {
    for (int p : {1, 2, 3, 8}) {
      std::size_t next = 0;
      for (int r = 0; r < p; ++r) {
        const auto s = dist::shard_of(n, r, p);
        CHECK(s.first == next);
        CHECK(s.size() + 1 >= n / static_cast<std::size_t>(p));
        CHECK(s.size() <= n / static_cast<std::size_t>(p) + 1);
        next = s.last;
      }
      CHECK(next == n);
    }
  }
  CHECK(dist::rank_seed(42, 0) == 42);
  std::set<std::uint64_t> seeds;
  for (int r = 0; r < 100; ++r) seeds.insert(dist::rank_seed(42, r));
  CHECK(seeds.size() == 100);
}

TEST_CASE("a group of one trains the model of no group, bit for bit, for every averaging") {
  const auto ds = blobs(600, 12, 5);
  for (auto a : {Arithmetic::Float, Arithmetic::Engine}) {
    for (auto avg : {Averaging::Epoch, Averaging::Samples, Averaging::End}) {
      CAPTURE(to_string(a));
      CAPTURE(to_string(avg));
      const Options o = test::averaging_job(a, avg, 3, 1.0f / 64, 100);
      Sgd<L2Svm, Quantized<4, Stochastic>, Cpu> alone(o), grouped(o);
      dist::Solo solo;
      grouped.distribute(solo);
      const auto h1 = alone.fit(ds, ds);
      const auto h2 = grouped.fit(ds, ds);
      CHECK(alone.state().fixed == grouped.state().fixed);
      CHECK(alone.state().real == grouped.state().real);
      CHECK(h1.epochs.back().train_loss == h2.epochs.back().train_loss);
      CHECK(h2.ranks == 1);
      CHECK(h2.rank_seeds == std::vector<std::uint64_t>{o.seed});
    }
  }
}

TEST_CASE("a packed stream file's rows, mapped on their own, are the file's rows") {
  test::TempDir dir;
  const auto ds = blobs(1000, 40, 9);
  Options o;
  const auto packed = Sgd<L2Svm, Quantized<2, Nearest>, Cpu>::pack_for(ds, o);
  auto info = io::stream_file_info<Quantized<2, Nearest>>(packed, stream::PackOptions{});
  info.classes = {0.0f, 1.0f, 2.0f};
  const auto path = dir.path / "blobs.zps";
  io::save_stream(path, info, packed);
  const auto head = io::read_stream_head(path);
  CHECK(head.info.rows == 1000);
  const std::size_t rw = packed.layout.row_words();
  for (auto [first, last] : {std::pair<std::uint64_t, std::uint64_t>{0, 1000}, {0, 333}, {333, 1000}, {999, 1000}, {500, 500}}) {
    const auto part = io::load_stream_rows(path, head, first, last);
    REQUIRE(part.stream.rows == last - first);
    CHECK(!part.bad_row);
    for (std::size_t k = 0; k < part.stream.words.size(); ++k) REQUIRE(part.stream.words[k] == packed.words[first * rw + k]);
    if (first == 0 && last == 1000) CHECK(part.crc == head.info.data_crc);
  }
  // one rank of one: the whole file, checked
  dist::Solo solo;
  const auto all = dist::load_stream_shard(path, solo);
  CHECK(all.stream.words == packed.words);
  CHECK_THROWS_WITH_AS(io::load_stream_rows(path, head, 10, 1001), doctest::Contains("rows 10..1001"), Error);
  // a damaged byte: the group's checksum says so
  {
    std::FILE* fp = std::fopen(path.c_str(), "r+b");
    REQUIRE(fp != nullptr);
    std::fseek(fp, static_cast<long>(head.info.data_offset + 100), SEEK_SET);
    std::fputc(0x55, fp);
    std::fclose(fp);
  }
  CHECK_THROWS_WITH_AS((void)dist::load_stream_shard(path, solo), doctest::Contains("data checksum mismatch"),
                       dist::GroupError);
  CHECK_THROWS_WITH_AS((void)io::read_stream_head(dir.path / "missing.zps"), doctest::Contains("file not found"), Error);
}
