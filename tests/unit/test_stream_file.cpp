// Packed stream files (zipml/io/stream_file.hpp) and the storage they load into
// (zipml/stream/word_store.hpp): round trips of every precision bit for bit, the byte layout
// written independently here from the header comment, every refusal, corruption at every
// offset, CRC-32 implementations against each other, and training from a loaded file.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.hpp"
#include "zipml/io/binary.hpp"
#include "zipml/io/stream_file.hpp"
#include "zipml/io/stream_rows.hpp"
#include "zipml/zipml.hpp"

using namespace zipml;
using zipml::test::TempDir;
using stream::Word;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

Bytes read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

//! n rows, d features uniform in the range (bias 1 in column 0); `classes` > 0: labels
//! 0..classes-1, else a regression target.
data::Dataset synthetic(std::size_t n, std::size_t d, std::size_t classes, std::uint64_t seed, bool minus_one_one) {
  SplitMix64 rng(seed);
  data::Dataset ds;
  ds.source = "synthetic(seed=" + std::to_string(seed) + ")";
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    float s = 0.0f;
    for (std::size_t j = 1; j < d; ++j) {
      const float u = rng.uniform();
      ds.features(i, j) = minus_one_one ? 2.0f * u - 1.0f : u;
      s += (j % 3 == 0 ? -1.0f : 1.0f) * u;
    }
    ds.labels(i) = classes ? static_cast<float>(rng.below(classes)) : 3.0f * s - 1.0f;
  }
  return ds;
}

// ---- the documented byte layout, written here without the code under test --------------------

void le(Bytes& b, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void put_le(Bytes& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (8 * i));
}
void lef(Bytes& b, float f) { le(b, std::bit_cast<std::uint32_t>(f), 4); }

//! Bitwise CRC-32 (IEEE, reflected): the definition, slow and obviously right.
std::uint32_t crc_bitwise(const unsigned char* p, std::size_t n, std::uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

//! Every header field as raw numbers, so that tests can forge any of them.
struct Raw {
  std::array<unsigned char, 8> magic = {0x89, 'Z', 'P', 'S', '\r', '\n', 0x1a, '\n'};
  std::uint32_t version = 1;
  std::uint8_t bits = 8, mm = 0, ds = 0, rounding = 1, engine_range = 0;
  std::uint64_t seed = 11, epoch = 0;
  std::uint32_t dim = 5;
  std::uint64_t rows = 3;
  std::uint8_t order = 0;
  std::vector<float> classes;
  std::uint8_t scaler = 0, srange = 0, saxis = 1;
  std::vector<float> smin, smax;
  std::optional<std::uint32_t> columns; //!< default smin.size()
  std::uint8_t labels = 0;
  float lmin = 0.0f, lmax = 1.0f;
  std::uint8_t lrange = 0;
  double norm = std::numeric_limits<double>::quiet_NaN();
  std::string source = "raw";
  std::uint8_t storage = 0, levels = 0; //!< (version 2 on)
  std::vector<Word> words; //!< the data region
  // Overrides of the derived fields (nullopt: the true value).
  std::optional<std::uint64_t> file_size, data_offset, data_bytes;
  bool bad_header_crc = false, bad_data_crc = false;
};

Bytes build(const Raw& r) {
  Bytes b(r.magic.begin(), r.magic.end());
  le(b, r.version, 4);
  le(b, 0, 8);
  le(b, 0, 8);
  le(b, 0, 8);
  for (std::uint8_t v : {r.bits, r.mm, r.ds, r.rounding, r.engine_range}) le(b, v, 1);
  le(b, r.seed, 8);
  le(b, r.epoch, 8);
  le(b, r.dim, 4);
  le(b, r.rows, 8);
  le(b, r.order, 1);
  REQUIRE(b.size() == 70);
  le(b, r.classes.size(), 4);
  for (float c : r.classes) lef(b, c);
  le(b, r.scaler, 1);
  if (r.scaler) {
    le(b, r.srange, 1);
    le(b, r.saxis, 1);
    le(b, r.columns.value_or(static_cast<std::uint32_t>(r.smin.size())), 4);
    for (float v : r.smin) lef(b, v);
    for (float v : r.smax) lef(b, v);
  }
  le(b, r.labels, 1);
  if (r.labels) {
    lef(b, r.lmin);
    lef(b, r.lmax);
    le(b, r.lrange, 1);
  }
  le(b, std::bit_cast<std::uint64_t>(r.norm), 8);
  le(b, r.source.size(), 2);
  b.insert(b.end(), r.source.begin(), r.source.end());
  if (r.version >= 2) {
    le(b, r.storage, 1);
    le(b, r.levels, 1);
  }
  const std::size_t end = b.size() + 4;
  const std::uint64_t offset = r.data_offset.value_or((end + 4095) / 4096 * 4096);
  const std::uint64_t data = r.words.size() * 8;
  put_le(b, 12, r.file_size.value_or(offset + data + 4), 8);
  put_le(b, 20, offset, 8);
  put_le(b, 28, r.data_bytes.value_or(data), 8);
  le(b, crc_bitwise(b.data(), b.size()) ^ (r.bad_header_crc ? 1u : 0u), 4);
  b.resize(static_cast<std::size_t>(std::max<std::uint64_t>(offset, b.size())), 0);
  const std::size_t at = b.size();
  for (Word w : r.words) le(b, w, 8);
  le(b, crc_bitwise(b.data() + at, b.size() - at) ^ (r.bad_data_crc ? 1u : 0u), 4);
  return b;
}

//! A valid Raw: q8, d = 5 (one feature word), 3 rows with labels 0, 1, 0 and classes {0, 1}.
Raw valid_raw() {
  Raw r;
  r.classes = {0.0f, 1.0f};
  for (std::uint64_t i = 0; i < r.rows; ++i) {
    r.words.push_back(0x0000000102030405ULL + i);                            // 5 levels, 3 zero bytes
    r.words.push_back(std::bit_cast<std::uint32_t>(static_cast<float>(i % 2))); // label word
  }
  return r;
}

//! parse_stream's message for `b`, or "" if it accepts it.
std::string refusal(const Bytes& b, const std::string& name = "forged.zps") {
  try {
    (void)io::parse_stream(b, name);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

//! The header fields pack<P>(ds, o) gives, with classes or label scaler and source.
template <class P>
io::StreamFileInfo info_for(const stream::PackedStream& s, const stream::PackOptions& o, const data::Dataset& ds,
                            bool classifier) {
  io::StreamFileInfo f = io::stream_file_info<P>(s, o);
  if (classifier) f.classes = data::classes(ds);
  f.source = ds.source;
  return f;
}

struct Case {
  const char* name;
  bool minus_one_one, double_sampled, engine_range, classifier;
  int scaling; // 0 none, 1 rows, 2 columns
};

//! Packs a random data set with P, saves, loads (mapped), and compares everything.
template <class P>
void round_trip(const Case& c, std::uint64_t seed) {
  CAPTURE(c.name);
  CAPTURE(seed);
  TempDir dir;
  const std::size_t d = seed == 1 ? 8 : seed == 2 ? 13 : 64; // full and partial last words, odd and even d
  data::Dataset ds = synthetic(50 + seed % 13, d, c.classifier ? 4 : 0, seed, false);
  const auto range = c.minus_one_one ? data::Range::MinusOneOne : data::Range::ZeroOne;
  std::optional<data::MinMaxScaler> scaler;
  if (c.scaling != 0) {
    scaler.emplace();
    scaler->fit(ds, range, c.scaling == 1 ? data::Axis::Rows : data::Axis::Columns);
    scaler->apply(ds);
  } else if (c.minus_one_one) {
    ds = synthetic(ds.size(), d, c.classifier ? 4 : 0, seed, true);
  }
  std::optional<data::LabelScaler> labels;
  if (!c.classifier) labels = data::scale_labels(ds, range);
  stream::PackOptions o;
  o.range = range;
  o.double_sampled = c.double_sampled;
  o.engine_range = c.engine_range;
  o.seed = seed * 7 + 1;
  o.epoch = seed % 3;
  std::vector<std::uint32_t> order(ds.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>((i * 7) % order.size());
  if (seed % 2 == 0 && order.size() % 7 != 0) o.order = order;
  const stream::PackedStream s = stream::pack<P>(ds, o);
  io::StreamFileInfo f = info_for<P>(s, o, ds, c.classifier);
  f.scaler = scaler;
  f.label_scaler = labels;
  if (seed % 2 == 1) f.mean_sq_norm = 0.25 * static_cast<double>(seed) + 1.0 / 3.0; // else unknown (NaN)

  const fs::path p = dir.path / "s.zps";
  io::save_stream(p, f, s);
  CHECK(io::has_stream_magic(p));
  const Bytes bytes = read_bytes(p);
  CHECK(bytes == io::serialize_stream(f, s));

  // The bytes are the layout of the header comment, written independently.
  Raw r;
  r.version = 2;
  r.bits = static_cast<std::uint8_t>(P::bits);
  r.mm = c.minus_one_one;
  r.ds = s.layout.double_sampled;
  r.rounding = static_cast<std::uint8_t>(f.rounding);
  r.engine_range = c.engine_range;
  r.seed = o.seed;
  r.epoch = o.epoch;
  r.dim = static_cast<std::uint32_t>(d);
  r.rows = s.rows;
  r.order = !o.order.empty();
  r.classes = f.classes;
  if (scaler) {
    r.scaler = 1;
    r.srange = static_cast<std::uint8_t>(scaler->range());
    r.saxis = static_cast<std::uint8_t>(scaler->axis());
    r.smin = scaler->min();
    r.smax = scaler->max();
  }
  if (labels) {
    r.labels = 1;
    r.lmin = labels->min;
    r.lmax = labels->max;
    r.lrange = static_cast<std::uint8_t>(labels->range);
  }
  r.norm = f.mean_sq_norm;
  r.source = ds.source;
  r.words.assign(s.words.begin(), s.words.end());
  CHECK(bytes == build(r));

  for (const io::Verify v : {io::Verify::Checksum, io::Verify::SizeOnly}) {
    const io::LoadedStream l = io::load_stream(p, v);
    CHECK(l.info == f);
    CHECK(l.info.data_offset % 4096 == 0);
    CHECK(l.info.data_offset + l.info.data_bytes() + 4 == bytes.size());
    CHECK(l.info.data_crc == crc_bitwise(bytes.data() + l.info.data_offset, static_cast<std::size_t>(l.info.data_bytes())));
    CHECK(l.stream.layout == s.layout);
    CHECK(l.stream.rows == s.rows);
    REQUIRE(l.stream.words.size() == s.words.size());
    CHECK(l.stream.words == s.words); // bit for bit
    // A view of the mapping, not a copy.
    REQUIRE(l.stream.words.is_mapped());
    const auto* base = static_cast<const unsigned char*>(l.stream.words.mapping()->base());
    CHECK(reinterpret_cast<const unsigned char*>(l.stream.words.data()) == base + l.info.data_offset);
    CHECK(l.stream.words.mapping()->length() == bytes.size());
    for (std::size_t i = 0; i < s.rows; ++i) CHECK(l.stream.label_bits(i) == s.label_bits(i));
  }
}

} // namespace

// ---- WordStore ----------------------------------------------------------------------------------

TEST_CASE("WordStore: owned and mapped stores read the same; writes to a mapped store never reach the file") {
  TempDir dir;
  std::vector<Word> words(1000);
  SplitMix64 rng(20261207);
  for (auto& w : words) w = rng();
  const fs::path p = dir.path / "words.bin";
  {
    Bytes b;
    for (Word w : words) le(b, w, 8);
    write_bytes(p, b);
  }
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* base = ::mmap(nullptr, words.size() * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  REQUIRE(base != MAP_FAILED);
  auto region = std::make_shared<stream::MappedRegion>(base, words.size() * 8);
  std::weak_ptr<stream::MappedRegion> alive = region;

  stream::WordStore owned = words;
  stream::WordStore mapped = stream::WordStore::mapped(region, static_cast<Word*>(base), words.size());
  region.reset(); // the store keeps the mapping alive
  CHECK_FALSE(owned.is_mapped());
  REQUIRE(mapped.is_mapped());
  CHECK(!alive.expired());
  CHECK(mapped.size() == owned.size());
  CHECK(mapped == owned);
  CHECK(std::equal(mapped.begin(), mapped.end(), words.begin()));
  CHECK(mapped.view().size() == words.size());
  for (std::size_t i = 0; i < words.size(); i += 97) CHECK(mapped[i] == owned[i]);
  CHECK(mapped.to_vector() == words);
  const std::vector<Word>& as_vector = mapped; // code written for the vector (a copy)
  CHECK(as_vector == words);

  // A write changes the store, not the file.
  mapped[3] = ~mapped[3];
  CHECK(mapped[3] == ~words[3]);
  CHECK_FALSE(mapped == owned);
  const Bytes on_disk = read_bytes(p);
  Word w3 = 0;
  std::memcpy(&w3, on_disk.data() + 24, 8);
  CHECK(w3 == words[3]);

  // A copy is owned and independent; a move keeps the mapping.
  stream::WordStore copy = mapped;
  CHECK_FALSE(copy.is_mapped());
  CHECK(copy == mapped);
  copy[4] = 0;
  CHECK(mapped[4] == words[4]);
  stream::WordStore moved = std::move(mapped);
  CHECK(moved.is_mapped());
  CHECK(mapped.empty()); // NOLINT(bugprone-use-after-move): a moved-from store is empty
  CHECK_FALSE(mapped.is_mapped());
  // Resizing copies into an owned vector first, then releases the mapping.
  stream::WordStore grown = moved;
  moved.resize(moved.size() + 1);
  CHECK_FALSE(moved.is_mapped());
  CHECK(moved.size() == words.size() + 1);
  CHECK(std::equal(grown.begin(), grown.end(), moved.begin()));
  CHECK(alive.expired()); // the last mapped store let go: unmapped

  // assign from the store's own mapped words, and the vector-like rest.
  stream::WordStore again = stream::WordStore::mapped(
      std::make_shared<stream::MappedRegion>(nullptr, 0), words.data(), words.size()); // any writable memory
  again.assign(again.begin() + 1, again.begin() + 3);
  CHECK_FALSE(again.is_mapped());
  CHECK(again == stream::WordStore{words[1], words[2]});
  again.assign(4, Word{7});
  CHECK(again == stream::WordStore(std::vector<Word>(4, 7)));
  again = std::vector<Word>{1, 2, 3};
  CHECK(again.size() == 3);
  CHECK(again.back() == 3);
  again.clear();
  CHECK(again.empty());
}

// ---- CRC-32 -------------------------------------------------------------------------------------

TEST_CASE("CRC-32: the tables, zlib and libdeflate agree, whole and in pieces") {
  const std::string check = "123456789";
  const auto as_bytes = [](const std::string& t) {
    return std::span(reinterpret_cast<const unsigned char*>(t.data()), t.size());
  };
  CHECK(io::detail::crc32_portable(as_bytes(check)) == 0xCBF43926u);
  CHECK(io::detail::crc32_of(as_bytes(check)) == 0xCBF43926u);
  const std::uint64_t seed = 20261207;
  INFO("seed " << seed);
  SplitMix64 rng(seed);
  Bytes bytes(300000);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng() >> 56);
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9},
                              std::size_t{63}, std::size_t{4097}, std::size_t{65536 + 3}, bytes.size()}) {
    INFO("length " << n);
    const auto part = std::span<const unsigned char>(bytes).first(n);
    const std::uint32_t want = crc_bitwise(part.data(), n);
    CHECK(io::detail::crc32_portable(part) == want);
    CHECK(io::detail::crc32_of(part) == want);
#ifndef ZIPML_NO_ZLIB
    CHECK(io::detail::crc32_zlib(part) == want);
#endif
#ifdef ZIPML_HAVE_LIBDEFLATE
    CHECK(io::detail::crc32_libdeflate(part) == want);
#endif
    // In two pieces at a random cut.
    const std::size_t cut = n == 0 ? 0 : static_cast<std::size_t>(rng.below(n + 1));
    CHECK(io::detail::crc32_portable(part.subspan(cut), io::detail::crc32_portable(part.first(cut))) == want);
    CHECK(io::detail::crc32_of(part.subspan(cut), io::detail::crc32_of(part.first(cut))) == want);
  }
#ifdef ZIPML_HAVE_LIBDEFLATE
  MESSAGE("crc32_of is libdeflate's");
#elif !defined(ZIPML_NO_ZLIB)
  MESSAGE("crc32_of is zlib's");
#else
  MESSAGE("crc32_of is the tables'");
#endif
}

// ---- round trips --------------------------------------------------------------------------------

TEST_CASE("every precision round-trips bit for bit and loads as a mapping") {
  // name, [-1, 1], double sampled, engine range, classifier, scaling (0 none, 1 rows, 2 columns)
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    round_trip<Float32>({"float32", false, false, false, true, 2}, seed);
    round_trip<Float32>({"float32 [-1, 1] engine range", true, false, true, false, 1}, seed);
    round_trip<Float32>({"float32 unscaled regression", false, false, false, false, 0}, seed);
    round_trip<Quantized<8>>({"q8", false, false, false, true, 2}, seed);
    round_trip<Quantized<8, Stochastic>>({"q8 [-1, 1] double", true, true, false, false, 2}, seed);
    round_trip<Quantized<4>>({"q4 [-1, 1]", true, false, false, true, 1}, seed);
    round_trip<Quantized<4, Stochastic>>({"q4 double", false, true, false, true, 0}, seed);
    round_trip<Quantized<2, Stochastic>>({"q2 [-1, 1] double", true, true, false, true, 2}, seed);
    round_trip<Quantized<2>>({"q2 regression", false, false, false, false, 1}, seed);
    round_trip<Quantized<1, Stochastic>>({"q1 double", false, true, false, true, 2}, seed);
    round_trip<Quantized<1>>({"q1", false, false, false, false, 0}, seed);
  }
}

TEST_CASE("a header longer than a page moves the data to the next multiple of 4096") {
  TempDir dir;
  data::Dataset ds = synthetic(9, 700, 3, 5, false); // a column scaler of 700 x 8 bytes
  data::MinMaxScaler sc;
  sc.fit(ds, data::Range::ZeroOne, data::Axis::Columns);
  sc.apply(ds);
  const auto s = stream::pack<Quantized<4>>(ds);
  io::StreamFileInfo f = io::stream_file_info<Quantized<4>>(s, {});
  f.classes = data::classes(ds);
  f.scaler = sc;
  f.source = std::string(3000, 's');
  const fs::path p = dir.path / "wide.zps";
  io::save_stream(p, f, s);
  const auto l = io::load_stream(p);
  CHECK(l.info.data_offset == 12288); // about 8.7 KB of header: classes, 700 x 2 floats, 3002 bytes of source
  CHECK(l.info == f);
  CHECK(l.stream.words == s.words);
  // The header alone (no data bytes) is enough to read it.
  const Bytes b = read_bytes(p);
  const auto h = io::parse_stream_header(std::span<const unsigned char>(b).first(12288), p.string(), b.size());
  CHECK(h == f);
  CHECK(h.data_offset == 12288);
}

TEST_CASE("a model trained from a loaded file is the model trained from the data set") {
  TempDir dir;
  const data::Dataset ds = synthetic(300, 17, 3, 42, false);
  Options o;
  o.epochs = 3;
  o.step = 1.0f / 32;
  o.seed = 5;
  using S = Sgd<L2Svm, Quantized<4, Stochastic>, Cpu>;
  S direct(o);
  direct.fit(ds);
  const stream::PackedStream s = S::pack_for(ds, o);
  stream::PackOptions po;
  po.seed = o.seed;
  io::StreamFileInfo f = io::stream_file_info<Quantized<4, Stochastic>>(s, po);
  f.classes = data::classes(ds);
  const fs::path p = dir.path / "train.zps";
  io::save_stream(p, f, s);
  io::LoadedStream l = io::load_stream(p);
  S from_file(o);
  from_file.fit(std::move(l.stream));
  CHECK(from_file.packed().words.is_mapped()); // moved, not copied
  CHECK(from_file.linear_model().weights() == direct.linear_model().weights());
}

// ---- refusals -------------------------------------------------------------------------------------

TEST_CASE("the independent writer's valid file loads") {
  const Raw r = valid_raw();
  CHECK(refusal(build(r)) == "");
  const auto f = io::parse_stream(build(r), "raw.zps");
  CHECK(f.layout.bits == 8);
  CHECK(f.layout.dim == 5);
  CHECK(f.rows == 3);
  CHECK(f.classes == std::vector<float>{0.0f, 1.0f});
  CHECK(f.source == "raw");
  CHECK(f.data_offset == 4096);
}

TEST_CASE("load errors name the file and the problem") {
  TempDir dir;
  const fs::path p = dir.path / "bad.zps";
  const std::string name = p.string();
  const auto load_error = [&](const Bytes& b) -> std::string {
    write_bytes(p, b);
    try {
      (void)io::load_stream(p);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const auto expect = [&](const Bytes& b, std::initializer_list<std::string> parts) {
    const std::string msg = load_error(b);
    CAPTURE(msg);
    CHECK(msg.find(name) != std::string::npos);
    for (const std::string& part : parts) {
      CAPTURE(part);
      CHECK(msg.find(part) != std::string::npos);
    }
  };
  const Bytes good = build(valid_raw());
  CHECK(load_error(good) == "");

  SUBCASE("missing, a folder, empty") {
    try {
      (void)io::load_stream(dir.path / "nope.zps");
      FAIL("loaded a missing file");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("nope.zps': file not found") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS((void)io::load_stream(dir.path), doctest::Contains("it is a directory"), Error);
    expect({}, {"is truncated", "the file has 0"});
    CHECK_FALSE(io::has_stream_magic(dir.path / "nope.zps"));
    CHECK_FALSE(io::has_stream_magic(dir.path));
  }
  SUBCASE("magic, version") {
    Bytes b = good;
    b[1] = 'Q';
    expect(b, {"is not a zipml packed stream file"});
    write_bytes(p, b);
    CHECK_FALSE(io::has_stream_magic(p));
    expect(Bytes{'h', 'e', 'l', 'l', 'o'}, {"is not a zipml packed stream file"});
    Raw r = valid_raw();
    r.version = 3;
    expect(build(r), {"format version 3 is not supported", "reads versions 1 to 2", "newer zipml"});
    r.version = 2;
    r.levels = 1;
    expect(build(r), {"levels 1 are not supported"});
    r.levels = 0;
    r.storage = 2;
    expect(build(r), {"storage 2 is not 0 (rows) or 1 (bit planes)"});
    r.storage = 1; // bit planes need the plane layout's size
    expect(build(r), {"inconsistent sizes", "8 bit planes of d 5"});
    r.storage = 0;
    CHECK(load_error(build(r)) == ""); // version 2 of rows: the same file with the two bytes
    r.version = 0;
    expect(build(r), {"format version 0 is not supported"});
  }
  SUBCASE("truncated, or bytes after the end") {
    Bytes b = good;
    b.pop_back();
    expect(b, {"is truncated: expected " + std::to_string(good.size()) + " bytes, the file has " +
                   std::to_string(good.size() - 1)});
    b = good;
    b.resize(4096);
    expect(b, {"is truncated"});
    b = good;
    b.resize(50);
    expect(b, {"is truncated: a packed stream file has at least 90 bytes of header, the file has 50"});
    b = good;
    b.push_back(0);
    expect(b, {"1 bytes after the end of the packed stream"});
    Raw r = valid_raw();
    r.file_size = 1000; // a size field that lies
    expect(build(r), {"bytes after the end"});
  }
  SUBCASE("checksums") {
    Bytes b = good;
    b[4096 + 5] ^= 0x10; // a data byte
    expect(b, {"is corrupt: data checksum mismatch (stored 0x", ", computed 0x", "over the 48 data bytes at offset 4096"});
    b = good;
    b[45] ^= 0x01; // the seed
    expect(b, {"is corrupt: header checksum mismatch (stored 0x", ", computed 0x"});
    b = good;
    b.back() ^= 0x80; // the data checksum itself
    expect(b, {"data checksum mismatch"});
    Raw r = valid_raw();
    r.bad_header_crc = true;
    expect(build(r), {"header checksum mismatch"});
    b = good;
    b[4000] = 1; // the padding, which no checksum covers
    expect(b, {"the padding between the header and the data is not zero (byte 4000 is 1)"});
  }
  SUBCASE("sizes and offsets") {
    Raw r = valid_raw();
    r.data_bytes = 40;
    expect(build(r), {"the header says 40 bytes of data, the file has 48"});
    r = valid_raw();
    r.data_offset = 2048;
    expect(build(r), {"data offset 2048 is not a multiple of 4096"});
    r = valid_raw();
    r.data_offset = 8192;
    expect(build(r), {"data offset 8192, but the header ends at byte", "expected the data at 4096"});
    r = valid_raw();
    r.words.pop_back(); // 5 words for 3 rows of 2
    expect(build(r), {"inconsistent sizes: 3 rows of 2 words", "need 48 bytes of data, the file has 40"});
    r = valid_raw();
    r.rows = 4;
    expect(build(r), {"inconsistent sizes: 4 rows"});
    r.rows = 0;
    expect(build(r), {"0 rows"});
    r.rows = std::uint64_t{1} << 40;
    expect(build(r), {"1099511627776 rows do not fit the stream's 32-bit sample count"});
    r = valid_raw();
    r.classes.assign(1u << 20, 0.0f); // a class count the header's bytes cannot hold is never allocated
    Bytes b = build(r);
    put_le(b, 70, 0xFFFFFFFFu, 4);
    expect(b, {"corrupt packed stream file: a field at byte 74 needs 17179869180 bytes"});
  }
  SUBCASE("layout and rounding") {
    Raw r = valid_raw();
    r.bits = 3;
    expect(build(r), {"precision bits 3 is not 32, 8, 4, 2 or 1"});
    r = valid_raw();
    r.bits = 1;
    r.mm = 1;
    expect(build(r), {"1-bit precision with features in [-1, 1]"});
    r = valid_raw();
    r.bits = 32;
    r.rounding = 0;
    r.ds = 1;
    expect(build(r), {"double sampling at float32"});
    r = valid_raw();
    r.dim = 0;
    expect(build(r), {"dimension d = 0 is outside 1..1048576"});
    r.dim = (1u << 20) + 1;
    expect(build(r), {"dimension d = 1048577 is outside"});
    r = valid_raw();
    r.rounding = 0;
    expect(build(r), {"precision q8 with rounding 'none'"});
    r = valid_raw();
    r.bits = 32;
    r.rounding = 1;
    expect(build(r), {"precision float32 with rounding 'nearest'"});
    r = valid_raw();
    r.rounding = 7;
    expect(build(r), {"rounding 7 is not 0 (none), 1 (nearest) or 2 (stochastic)"});
    r = valid_raw();
    r.ds = 1;
    r.rounding = 1;
    r.words.clear();
    for (int i = 0; i < 3; ++i) r.words.insert(r.words.end(), {Word{1}, Word{1}, Word{0}});
    expect(build(r), {"double sampling with rounding 'nearest'"});
    r = valid_raw();
    r.mm = 2;
    expect(build(r), {"corrupt packed stream file: minus_one_one is 2, expected 0 or 1"});
    r = valid_raw();
    r.order = 3;
    expect(build(r), {"order is 3, expected 0 or 1"});
    r = valid_raw();
    r.engine_range = 9;
    expect(build(r), {"engine_range is 9"});
  }
  SUBCASE("classes and scalers") {
    Raw r = valid_raw();
    r.classes = {1.0f, 0.0f};
    expect(build(r), {"the classes are not sorted and distinct"});
    r.classes = {0.0f, 0.0f, 1.0f};
    expect(build(r), {"the classes are not sorted and distinct"});
    r.classes = {0.0f, std::numeric_limits<float>::quiet_NaN()};
    expect(build(r), {"class 1 is nan, not finite"});
    r = valid_raw();
    r.scaler = 1;
    r.saxis = 1;
    r.smin.assign(4, 0.0f);
    r.smax.assign(4, 1.0f);
    expect(build(r), {"the column scaler has 4 columns, the stream d = 5"});
    r.saxis = 0;
    expect(build(r), {"a row scaler with 4 columns"});
    r.saxis = 2;
    expect(build(r), {"feature scaler axis 2"});
    r = valid_raw();
    r.scaler = 1;
    r.saxis = 1;
    r.smin.assign(5, 0.0f);
    r.smax.assign(5, 1.0f);
    CHECK(load_error(build(r)) == "");
    r.smax[2] = std::numeric_limits<float>::infinity();
    expect(build(r), {"feature scaler: column 2 has the range [0, inf], not a finite interval"});
    r.smax[2] = -1.0f;
    expect(build(r), {"column 2 has the range [0, -1]"});
    r.smax[2] = 1.0f;
    r.srange = 5;
    expect(build(r), {"feature scaler range 5"});
    r = valid_raw();
    r.labels = 1;
    expect(build(r), {"a classifier's stream (2 classes) has no label scaler"});
    r.classes.clear();
    CHECK(load_error(build(r)) == "");
    r.lmax = std::numeric_limits<float>::quiet_NaN();
    expect(build(r), {"the label scaler's range [0, nan] is not a finite interval"});
    r.lmax = 1.0f;
    r.lrange = 3;
    expect(build(r), {"label scaler range 3"});
    r = valid_raw();
    r.scaler = 4;
    expect(build(r), {"feature scaler present is 4"});
    r = valid_raw();
    r.norm = 12.5;
    CHECK(load_error(build(r)) == "");
    r.norm = -0.5;
    expect(build(r), {"the mean squared norm -0.500000 is neither a finite number >= 0 nor NaN"});
  }
  SUBCASE("the words: label words and padding") {
    Raw r = valid_raw();
    r.words[3] |= Word{1} << 40;
    expect(build(r), {"row 2: the label word 0x000001003f800000 has bits 63..32 set"});
    r = valid_raw();
    r.words[5] = 0x7fc00000u;
    expect(build(r), {"row 3: the label nan is not finite"});
    r = valid_raw();
    r.words[1] = std::bit_cast<std::uint32_t>(2.0f);
    expect(build(r), {"row 1: the label 2 is not one of the 2 classes"});
    r.classes.clear(); // regression: any finite label
    CHECK(load_error(build(r)) == "");
    r = valid_raw();
    r.words[2] |= Word{1} << 40; // level 5 of a d = 5 row
    expect(build(r), {"row 2: the padding after feature 4 is not zero"});
    // Verify::SizeOnly reads none of the data: the same file loads.
    write_bytes(p, build(r));
    CHECK(io::load_stream(p, io::Verify::SizeOnly).stream.rows == 3);
  }
}

TEST_CASE("every truncation and every single-byte corruption is refused") {
  const std::uint64_t seed = 99;
  INFO("seed " << seed);
  data::Dataset ds = synthetic(20, 11, 2, seed, false);
  stream::PackOptions o;
  o.seed = seed;
  const auto s = stream::pack<Quantized<2, Stochastic>>(ds, o);
  io::StreamFileInfo f = io::stream_file_info<Quantized<2, Stochastic>>(s, o);
  f.classes = data::classes(ds);
  f.source = "corruption test";
  const Bytes good = io::serialize_stream(f, s);
  REQUIRE(refusal(good) == "");
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    if (refusal(cut).empty()) FAIL_CHECK("a file cut to " << n << " bytes loaded");
  }
  SplitMix64 rng(seed);
  for (std::size_t at = 0; at < good.size(); ++at) {
    Bytes b = good;
    b[at] ^= static_cast<unsigned char>(1u + rng.below(255));
    const std::string msg = refusal(b);
    if (msg.empty()) FAIL_CHECK("a file with byte " << at << " changed loaded");
    if (msg.find("forged.zps") == std::string::npos) FAIL_CHECK("the message does not name the file: " << msg);
  }
}

TEST_CASE("save refuses what would not load, and writes nothing") {
  TempDir dir;
  const fs::path p = dir.path / "out.zps";
  data::Dataset ds = synthetic(10, 6, 2, 3, false);
  const auto s = stream::pack<Quantized<8>>(ds);
  const io::StreamFileInfo good = [&] {
    io::StreamFileInfo f = io::stream_file_info<Quantized<8>>(s, {});
    f.classes = data::classes(ds);
    return f;
  }();
  const auto refused = [&](const io::StreamFileInfo& f, const stream::PackedStream& st, const char* part) {
    CAPTURE(part);
    try {
      io::save_stream(p, f, st);
      FAIL_CHECK("saved");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CAPTURE(msg);
      CHECK(msg.find("cannot save the packed stream to '" + p.string() + "'") != std::string::npos);
      CHECK(msg.find(part) != std::string::npos);
    }
    CHECK_FALSE(fs::exists(p));
    CHECK(fs::is_empty(dir.path)); // no temporary left
  };
  io::StreamFileInfo f = good;
  f.layout.bits = 4;
  refused(f, s, "the header's layout (q4, d 6, [0, 1]) is not the stream's (q8, d 6, [0, 1])");
  f = good;
  f.rows = 9;
  refused(f, s, "the header says 9 rows, the stream has 10");
  f = good;
  f.classes = {1.0f, 0.0f};
  refused(f, s, "the classes are not sorted and distinct");
  f = good;
  f.classes = {0.0f};
  refused(f, s, "row ");
  f = good;
  f.rounding = io::StreamRounding::None;
  refused(f, s, "with rounding 'none'");
  f = good;
  f.source.assign(70000, 'x');
  refused(f, s, "the source string has 70000 bytes, at most 65535 fit");
  f = good;
  f.label_scaler = data::LabelScaler{};
  refused(f, s, "has no label scaler");
  f = good;
  f.mean_sq_norm = -1.0;
  refused(f, s, "the mean squared norm -1.000000 is neither");
  f = good;
  f.mean_sq_norm = std::numeric_limits<double>::infinity();
  refused(f, s, "is neither a finite number >= 0 nor NaN");
  stream::PackedStream bad = s;
  bad.words[bad.layout.row_words() - 1] |= Word{1} << 63;
  refused(good, bad, "row 1: the label word");
  bad = s;
  bad.words.resize(bad.words.size() - 1);
  refused(good, bad, "the stream has 19 words");
  io::save_stream(p, good, s); // and the good one saves
  CHECK(io::load_stream(p).stream.words == s.words);
}

TEST_CASE("saving over a loaded file leaves the loaded words as they were") {
  TempDir dir;
  const fs::path p = dir.path / "s.zps";
  data::Dataset ds = synthetic(30, 9, 0, 8, false);
  const auto a = stream::pack<Float32>(ds);
  io::save_stream(p, io::stream_file_info<Float32>(a, {}), a);
  const io::LoadedStream l = io::load_stream(p);
  const std::vector<Word> before = l.stream.words;
  data::Dataset other = synthetic(30, 9, 0, 9, false);
  const auto b = stream::pack<Float32>(other);
  io::save_stream(p, io::stream_file_info<Float32>(b, {}), b); // a new file renamed over it
  CHECK(l.stream.words.to_vector() == before);
  CHECK(io::load_stream(p).stream.words == b.words);
}

// ---- bit-plane files ------------------------------------------------------------------------------

TEST_CASE("a bit-plane stream round-trips, maps, and trains as the planes it was saved from") {
  const std::uint64_t seed = 131;
  INFO("seed " << seed);
  TempDir dir;
  const data::Dataset ds = synthetic(300, 19, 3, seed, false);
  stream::PackOptions po;
  po.seed = seed;
  po.epoch = 2;
  using P = Quantized<8, Stochastic>;
  const stream::PlaneStream planes = stream::pack_planes<P>(ds, po);
  io::StreamFileInfo f = io::stream_file_info<P>(planes, po);
  f.classes = data::classes(ds);
  f.source = ds.source;
  CHECK(f.storage == io::StreamStorage::Planes);
  CHECK(f.data_bytes() == planes.bytes());
  const fs::path p = dir.path / "planes.zps";
  io::save_stream(p, f, planes);
  const Bytes bytes = read_bytes(p);
  CHECK(bytes == io::serialize_stream(f, planes));
  for (const io::Verify v : {io::Verify::Checksum, io::Verify::SizeOnly}) {
    io::LoadedPlanes l = io::load_planes(p, v);
    CHECK(l.info == f);
    CHECK(l.planes.layout == planes.layout);
    CHECK(l.planes.dither_key == planes.dither_key);
    CHECK(l.planes.words.is_mapped());
    CHECK(l.planes.words == planes.words);
    for (unsigned q : {1u, 2u, 4u, 8u}) CHECK(stream::extract(l.planes, q).words == stream::extract(planes, q).words);
  }
  // Training from the file is training from the data set with the same schedule.
  Options o;
  o.epochs = 4;
  o.step = 1.0f / 32;
  o.seed = seed;
  o.schedule.bits = {1, 2, 4, 8};
  Sgd<L2Svm, P, Cpu> direct(o), from_file(o);
  // (pack_planes above used epoch 2: pack the data set's planes with epoch 0 for this)
  po.epoch = 0;
  const fs::path p0 = dir.path / "planes0.zps";
  io::StreamFileInfo f0 = io::stream_file_info<P>(stream::pack_planes<P>(ds, po), po);
  f0.classes = f.classes;
  io::save_stream(p0, f0, stream::pack_planes<P>(ds, po));
  direct.fit(ds);
  const History h = from_file.fit(std::move(io::load_planes(p0).planes));
  CHECK(from_file.linear_model().weights() == direct.linear_model().weights());
  CHECK(h.epochs.back().precision == 8);
  // Each loader refuses the other's files, saying which to use.
  CHECK_THROWS_WITH_AS((void)io::load_stream(p), doctest::Contains("it holds bit planes"), Error);
  CHECK_THROWS_WITH_AS((void)io::load_stream_rows(p, io::read_stream_head(p), 0, 1), doctest::Contains("it holds bit planes"),
                       Error);
  const fs::path rows = dir.path / "rows.zps";
  const auto s = stream::pack<P>(ds, po);
  io::save_stream(rows, io::stream_file_info<P>(s, po), s);
  CHECK_THROWS_WITH_AS((void)io::load_planes(rows), doctest::Contains("q8, d 19, [0, 1] rows, not bit planes"), Error);
}

TEST_CASE("a bit-plane file: every truncation and single-byte corruption is refused; a forged one names the row") {
  const std::uint64_t seed = 132;
  INFO("seed " << seed);
  const data::Dataset ds = synthetic(21, 11, 2, seed, false);
  stream::PackOptions po;
  po.seed = seed;
  using P = Quantized<2, Nearest>;
  const auto planes = stream::pack_planes<P>(ds, po);
  io::StreamFileInfo f = io::stream_file_info<P>(planes, po);
  f.classes = data::classes(ds);
  const Bytes good = io::serialize_stream(f, planes);
  REQUIRE(refusal(good) == "");
  for (std::size_t n = 0; n < good.size(); n += 7) {
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    if (refusal(cut).empty()) FAIL_CHECK("a file cut to " << n << " bytes loaded");
  }
  SplitMix64 rng(seed);
  for (std::size_t at = 0; at < good.size(); at += 3) {
    Bytes b = good;
    b[at] ^= static_cast<unsigned char>(1u + rng.below(255));
    if (refusal(b).empty()) FAIL_CHECK("a file with byte " << at << " changed loaded");
  }
  // Forged with a valid data checksum: a bit past feature 10 in row 5's plane 1.
  const auto info = io::parse_stream(good, "forged.zps");
  const std::size_t pw = planes.layout.plane_words(), region = planes.layout.region_words(21);
  auto forge = [&](std::size_t word, Word bits) {
    Bytes b = good;
    const std::size_t at = static_cast<std::size_t>(info.data_offset) + word * 8;
    for (int k = 0; k < 8; ++k) b[at + static_cast<std::size_t>(k)] ^= static_cast<unsigned char>(bits >> (8 * k));
    const std::uint32_t crc = crc_bitwise(b.data() + info.data_offset, static_cast<std::size_t>(info.data_bytes()));
    for (int k = 0; k < 4; ++k) b[b.size() - 4 + static_cast<std::size_t>(k)] = static_cast<unsigned char>(crc >> (8 * k));
    return refusal(b);
  };
  CHECK(forge(region + 4 * pw + pw - 1, Word{1} << 11).find("row 5: plane 1: the bits after feature 10 are not zero") !=
        std::string::npos);
  CHECK(forge(21 * pw, 1).find("plane 0: the padding after the last row is not zero") != std::string::npos);
  const std::size_t labels = 2 * region;
  CHECK(forge(labels + 3, Word{0x7fc00000} << 32).find("row 8: the label ") != std::string::npos);
  CHECK(forge(labels + 10, Word{1} << 32).find("padding after row 21 is not zero") != std::string::npos);
}
