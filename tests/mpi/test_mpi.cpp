// Data-parallel training on MPI: run by mpirun with two ranks (tests/mpi/meson.build). Every
// rank runs every test case in the same order, so the collective calls match; checks that
// involve the other rank compare values gathered from both.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../unit/support.hpp"
#include "zipml/distributed/average.hpp"
#include "zipml/distributed/load.hpp"
#include "zipml/distributed/mpi.hpp"
#include "zipml/io/stream_file.hpp"
#include "zipml/zipml.hpp"

using namespace zipml;
namespace dist = zipml::distributed;
namespace fs = std::filesystem;

namespace {

dist::Mpi* g_group = nullptr;

dist::Mpi& group() { return *g_group; }

//! Three classes of noisy blobs; the same rows on every rank (fixed seed).
data::Dataset blobs(std::size_t n, std::size_t d, std::uint64_t seed) { return test::blobs(n, d, seed, 0.4f); }

//! FNV-1a of the model words (both arithmetics' vectors).
std::int64_t digest(const ModelState& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto eat = [&](std::uint32_t w) {
    for (int b = 0; b < 4; ++b) h = (h ^ ((w >> (8 * b)) & 0xffu)) * 0x100000001b3ULL;
  };
  for (auto w : s.fixed) eat(static_cast<std::uint32_t>(w));
  for (float w : s.real) eat(std::bit_cast<std::uint32_t>(w));
  return static_cast<std::int64_t>(h >> 1);
}

//! Every rank's value, in rank order.
std::vector<std::int64_t> all_ranks(std::int64_t mine) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(group().size()), 0);
  v[static_cast<std::size_t>(group().rank())] = mine;
  group().sum(v);
  return v;
}

bool same_on_all_ranks(std::int64_t mine) {
  const auto v = all_ranks(mine);
  for (auto x : v)
    if (x != v.front()) return false;
  return true;
}

Options job(Arithmetic a, Averaging avg) {
  Options o = test::averaging_job(a, avg, 4, 1.0f / 128, 250);
  o.seed = 7;
  return o;
}

//! A folder both ranks use (rank 0's pid, which every rank learns).
fs::path shared_dir() {
  const auto pids = all_ranks(static_cast<std::int64_t>(::getpid()));
  const fs::path p = fs::temp_directory_path() / ("zipml-mpi-test-" + std::to_string(pids.front()));
  fs::create_directories(p);
  return p;
}

void barrier() { (void)all_ranks(0); }

} // namespace

TEST_CASE("the group: two ranks, exact sums, rank 0's double sums, gathers in rank order") {
  REQUIRE(group().size() == 2);
  std::vector<std::int64_t> v = {group().rank() + 1, 1LL << 40};
  group().sum(v);
  CHECK(v == std::vector<std::int64_t>{3, 1LL << 41});
  double d[2] = {0.1 * (group().rank() + 1), -1.0};
  group().sum(d);
  CHECK(same_on_all_ranks(static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(d[0]) >> 1)));
  double m = group().rank() == 0 ? 2.5 : -7.0;
  group().max(std::span(&m, 1));
  CHECK(m == 2.5);
  const std::vector<float> mine(static_cast<std::size_t>(group().rank() + 1), static_cast<float>(group().rank()));
  CHECK(group().gather(mine) == std::vector<float>{0.0f, 1.0f, 1.0f});
}

TEST_CASE("every rank ends with the bit-identical model, both arithmetics, every averaging") {
  const auto ds = blobs(3001, 24, 3);
  for (auto a : {Arithmetic::Float, Arithmetic::Engine}) {
    for (auto avg : {Averaging::Epoch, Averaging::Samples, Averaging::End}) {
      CAPTURE(to_string(a));
      CAPTURE(to_string(avg));
      const Options o = job(a, avg);
      Sgd<L2Svm, Quantized<4, Stochastic>, Cpu> sgd(o);
      sgd.distribute(group());
      const auto h = sgd.fit(ds, ds);
      CHECK(same_on_all_ranks(digest(sgd.state())));
      CHECK(same_on_all_ranks(static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(h.epochs.back().train_loss) >> 1)));
      CHECK(h.ranks == 2);
      CHECK(h.rank_seeds.size() == 2);
      CHECK(h.rank_seeds[0] != h.rank_seeds[1]);
      // Samples: the larger share (1501 rows) sets 7 rounds of about 250 per epoch on both ranks
      const std::size_t expect = avg == Averaging::Epoch ? 4 : avg == Averaging::End ? 1 : 4 * 7;
      CHECK(h.averagings == expect);
      // rank 0 alone has the test figure
      CHECK(h.epochs.back().test_metric.has_value() == group().is_root());
      // and the averaged model classifies about as well as one process on all the rows
      Sgd<L2Svm, Quantized<4, Stochastic>, Cpu> alone(o);
      alone.fit(ds);
      CHECK(sgd.score(ds) > alone.score(ds) - 0.03);
    }
  }
}

TEST_CASE("float32 samples and the regression model average alike") {
  const auto ds = blobs(2000, 16, 4);
  for (auto a : {Arithmetic::Float, Arithmetic::Engine}) {
    CAPTURE(to_string(a));
    Options o = job(a, Averaging::Epoch);
    o.positive_label = std::nullopt;
    Sgd<LeastSquares, Float32, Cpu> sgd(o);
    sgd.distribute(group());
    sgd.fit(ds);
    CHECK(same_on_all_ranks(digest(sgd.state())));
  }
}

TEST_CASE("a rank without one of the classes still trains every class's lane") {
  // rank 0's rows (file order, the first half) hold classes 0 and 1 only, rank 1's all three
  auto ds = blobs(1200, 12, 5);
  for (std::size_t i = 0; i < 600; ++i)
    if (ds.labels(i) == 2.0f) ds.labels(i) = 1.0f;
  Options o = job(Arithmetic::Float, Averaging::Epoch);
  o.order = Order::File;
  Sgd<L2Svm, Float32, Cpu> sgd(o);
  sgd.distribute(group());
  const auto packed = Sgd<L2Svm, Float32, Cpu>::pack_for(ds, o, group());
  sgd.fit(packed);
  CHECK(sgd.classes() == std::vector<float>{0.0f, 1.0f, 2.0f});
  CHECK(same_on_all_ranks(digest(sgd.state())));
}

TEST_CASE("a shared packed stream file: each rank maps its share; the ranks check it together") {
  const fs::path dir = shared_dir();
  const auto ds = blobs(2001, 30, 6);
  Options o = job(Arithmetic::Engine, Averaging::Epoch);
  o.order = Order::File;
  using Trainer = Sgd<L2Svm, Quantized<4, Nearest>, Cpu>;
  const fs::path file = dir / ("copy-" + std::to_string(group().rank()) + ".zps"); // a copy per rank
  const auto packed = Trainer::pack_for(ds, o);
  stream::PackOptions po;
  po.engine_range = true;
  auto info = io::stream_file_info<Quantized<4, Nearest>>(packed, po);
  info.classes = {0.0f, 1.0f, 2.0f};
  io::save_stream(file, info, packed);
  auto part = dist::load_stream_shard(file, group());
  const auto sh = dist::shard_of(2001, group().rank(), 2);
  CHECK(part.first == sh.first);
  CHECK(part.last == sh.last);
  CHECK(part.stream.rows == sh.size());
  // the same model as packing this rank's share from the rows (nearest rounding, file order)
  Trainer from_file(o), from_rows(o);
  from_file.distribute(group());
  from_rows.distribute(group());
  from_file.fit(std::move(part.stream));
  from_rows.fit(ds);
  CHECK(from_file.state().fixed == from_rows.state().fixed);
  CHECK(same_on_all_ranks(digest(from_file.state())));

  const auto head = io::read_stream_head(file);
  const std::uint64_t row_bytes = head.info.layout.row_words() * 8;
  auto patch = [&](std::uint64_t at, unsigned char v) {
    std::FILE* fp = std::fopen(file.c_str(), "r+b");
    REQUIRE(fp != nullptr);
    std::fseek(fp, static_cast<long>(at), SEEK_SET);
    std::fputc(v, fp);
    std::fclose(fp);
  };
  // a damaged byte in rank 1's rows (of rank 1's copy): every rank learns the file is corrupt
  const auto sh1 = dist::shard_of(2001, 1, 2);
  const std::uint64_t in_rank1 = head.info.data_offset + (sh1.first + 3) * row_bytes + 5;
  if (group().rank() == 1) patch(in_rank1, 0xa5);
  barrier();
  CHECK_THROWS_WITH_AS((void)dist::load_stream_shard(file, group()), doctest::Contains("data checksum mismatch"),
                       dist::GroupError);
  // a label that is no class in rank 1's rows, under a valid checksum (a forged file, the same
  // on both ranks): only rank 1 reads that row, so only rank 1 fails
  io::save_stream(file, info, packed); // the clean copy again
  {
    std::ifstream in(file, std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    const std::uint64_t label = head.info.data_offset + (sh1.first + 3) * row_bytes + row_bytes - 8;
    const std::uint32_t seven = std::bit_cast<std::uint32_t>(7.0f);
    for (int b = 0; b < 4; ++b) bytes[label + b] = static_cast<unsigned char>(seven >> (8 * b));
    const auto data = std::span<const unsigned char>(bytes).subspan(head.info.data_offset, head.info.data_bytes());
    const std::uint32_t crc = io::detail::crc32_of(data);
    for (int b = 0; b < 4; ++b) bytes[bytes.size() - 4 + b] = static_cast<unsigned char>(crc >> (8 * b));
    std::ofstream(file, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(bytes.data()),
                                                                 static_cast<std::streamsize>(bytes.size()));
  }
  barrier();
  bool threw = false;
  try {
    (void)dist::load_stream_shard(file, group());
  } catch (const dist::GroupError& e) {
    FAIL("a row only rank 1 holds is rank 1's own error, not the group's: " << std::string(e.what()));
  } catch (const Error& e) {
    threw = true;
    CHECK(std::string(e.what()).find("label 7") != std::string::npos);
  }
  CHECK(threw == (group().rank() == 1));
  // a rank whose copy is another file: named
  if (group().rank() == 1) {
    const auto small = Trainer::pack_for(blobs(100, 30, 6), o);
    auto info = io::stream_file_info<Quantized<4, Nearest>>(small, stream::PackOptions{});
    info.classes = {0.0f, 1.0f, 2.0f};
    io::save_stream(file, info, small);
  }
  barrier();
  CHECK_THROWS_WITH_AS((void)dist::load_stream_shard(file, group()), doctest::Contains("rank 1's file is not rank 0's"),
                       dist::GroupError);
  barrier();
  fs::remove(file);
  barrier();
  if (group().is_root()) fs::remove_all(dir);
}

int main(int argc, char** argv) {
  dist::Mpi mpi(&argc, &argv);
  g_group = &mpi;
  doctest::Context ctx(argc, argv);
  const int failed = ctx.run();
  // a rank that failed says so in its exit status; mpirun reports it
  return failed;
}
