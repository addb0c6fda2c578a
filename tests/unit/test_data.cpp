// Unit tests of zipml::data: gzip/plain file reading, IDX, LIBSVM, scaling and checks.
//
// Fixtures are written into a fresh temporary directory per test case and removed afterwards;
// gzip fixtures are made with zlib so they exercise the same code path as real .gz files.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "zipml/data.hpp"

namespace fs = std::filesystem;
using zipml::Error;
using namespace zipml::data;

namespace {

//! A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    for (;;) {
      path_ = fs::temp_directory_path() /
              ("zipml_test_data_" + std::to_string(stamp) + "_" + std::to_string(counter++));
      if (fs::create_directory(path_)) break;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

using Bytes = std::vector<unsigned char>;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  REQUIRE(out.good());
}

void write_file(const fs::path& p, const Bytes& bytes) {
  write_file(p, std::string(bytes.begin(), bytes.end()));
}

void write_gz(const fs::path& p, const Bytes& bytes) {
  gzFile f = gzopen(p.string().c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty()) {
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
  }
  REQUIRE(gzclose(f) == Z_OK);
}

void write_gz(const fs::path& p, const std::string& text) {
  write_gz(p, Bytes(text.begin(), text.end()));
}

Bytes read_raw(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put_be32(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<unsigned char>(v >> shift));
}

unsigned char pixel(std::size_t image, std::size_t k) {
  return static_cast<unsigned char>((image * 37 + k * 11) % 256);
}

Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                 std::uint32_t magic = 0x00000803) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, count);
  put_be32(b, rows);
  put_be32(b, cols);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t k = 0; k < std::size_t{rows} * cols; ++k) b.push_back(pixel(i, k));
  return b;
}

Bytes idx_labels(std::uint32_t count, std::uint32_t magic = 0x00000801) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, count);
  for (std::size_t i = 0; i < count; ++i) b.push_back(static_cast<unsigned char>(i % 10));
  return b;
}

//! The message of the zipml::Error `f` throws; fails the check (and returns "") otherwise.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("expected zipml::Error, got another exception: ", e.what());
    return {};
  }
  FAIL_CHECK("expected zipml::Error, nothing was thrown");
  return {};
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

//! Parses `text` as a LIBSVM file `name` in `dir`.
Dataset libsvm_text(const TempDir& dir, const std::string& text, const LibsvmOptions& opt = {},
                    const std::string& name = "data.libsvm") {
  write_file(dir / name, text);
  return read_libsvm(dir / name, opt);
}

//! The error message for LIBSVM `text`; checks it starts with "<file>:<line>:" and holds `token`.
void check_libsvm_error(const std::string& text, std::size_t line, const std::string& token,
                        const LibsvmOptions& opt = {}) {
  TempDir dir;
  const fs::path p = dir / "bad.libsvm";
  write_file(p, text);
  const std::string msg = error_of([&] { (void)read_libsvm(p, opt); });
  INFO("input: ", text);
  INFO("message: ", msg);
  CHECK(has(msg, p.string() + ":" + std::to_string(line) + ":"));
  CHECK(has(msg, token));
}

Dataset make_dataset(const std::vector<std::vector<float>>& rows_without_bias,
                     const std::vector<float>& labels, const std::string& source = "mem") {
  Dataset ds;
  ds.source = source;
  const std::size_t n = rows_without_bias.size();
  const std::size_t d = n == 0 ? 1 : rows_without_bias[0].size() + 1;
  ds.features = xt::xtensor<float, 2>::from_shape({n, d});
  ds.labels = xt::xtensor<float, 1>::from_shape({labels.size()});
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0F;
    for (std::size_t j = 1; j < d; ++j) ds.features(i, j) = rows_without_bias[i][j - 1];
  }
  for (std::size_t i = 0; i < labels.size(); ++i) ds.labels(i) = labels[i];
  return ds;
}

} // namespace

// ------------------------------------------------------------------------------------------
TEST_SUITE("gzfile") {
  TEST_CASE("plain and gzip files read to the same bytes") {
    TempDir dir;
    Bytes data;
    for (int i = 0; i < 100000; ++i) data.push_back(static_cast<unsigned char>((i * 7919) % 251));
    write_file(dir / "x.bin", data);
    write_gz(dir / "x.bin.gz", data);
    CHECK(read_file_bytes(dir / "x.bin") == data);
    CHECK(read_file_bytes(dir / "x.bin.gz") == data);
    CHECK(read_file_text(dir / "x.bin.gz") == std::string(data.begin(), data.end()));
    write_file(dir / "empty", std::string());
    CHECK(read_file_bytes(dir / "empty").empty());
  }

  TEST_CASE("missing file and directory name the path") {
    TempDir dir;
    const std::string msg = error_of([&] { (void)read_file_bytes(dir / "nope.gz"); });
    CHECK(has(msg, (dir / "nope.gz").string()));
    CHECK(has(msg, "not found"));
    const std::string msg2 = error_of([&] { (void)read_file_text(dir.path()); });
    CHECK(has(msg2, dir.path().string()));
    CHECK(has(msg2, "directory"));
  }

  TEST_CASE("gzip of several members, of a size unlike its trailer, and with trailing bytes") {
    // libdeflate inflates a member at a time into a buffer sized from the last trailer: every
    // way that guess can be wrong must still give the whole content, as zlib's gzread does.
    TempDir dir;
    std::mt19937 rng(4321);
    INFO("seed=", 4321);
    Bytes small(1000), big(300000);
    for (auto& b : small) b = static_cast<unsigned char>(rng() % 7); // compressible
    for (auto& b : big) b = static_cast<unsigned char>(rng() % 3);
    write_gz(dir / "a.gz", big);
    write_gz(dir / "b.gz", small);
    Bytes two = read_raw(dir / "a.gz");
    const Bytes b = read_raw(dir / "b.gz");
    two.insert(two.end(), b.begin(), b.end()); // the small member last: its trailer says 1000
    write_file(dir / "two.gz", two);
    Bytes expected = big;
    expected.insert(expected.end(), small.begin(), small.end());
    CHECK(read_file_bytes(dir / "two.gz") == expected);
    Bytes tail = read_raw(dir / "b.gz");
    for (int i = 0; i < 8; ++i) tail.push_back(0); // not a member: ignored, as zlib does
    write_file(dir / "tail.gz", tail);
    CHECK(read_file_bytes(dir / "tail.gz") == small);
  }

  TEST_CASE("truncated and corrupt gzip name the path and zlib's message") {
    TempDir dir;
    std::mt19937 rng(1234);
    INFO("seed=", 1234);
    Bytes data(50000);
    for (auto& b : data) b = static_cast<unsigned char>(rng()); // incompressible: stored blocks
    write_gz(dir / "ok.gz", data);
    const Bytes gz = read_raw(dir / "ok.gz");

    write_file(dir / "cut.gz", Bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
    const std::string cut = error_of([&] { (void)read_file_bytes(dir / "cut.gz"); });
    CHECK(has(cut, (dir / "cut.gz").string()));
    CHECK(has(cut, "unexpected end of file"));

    Bytes bad_crc = gz;
    bad_crc[bad_crc.size() - 6] ^= 0xff; // inside the CRC-32 trailer
    write_file(dir / "crc.gz", bad_crc);
    const std::string crc = error_of([&] { (void)read_file_bytes(dir / "crc.gz"); });
    CHECK(has(crc, (dir / "crc.gz").string()));
    CHECK(has(crc, "zlib"));
    CHECK(has(crc, "incorrect data check"));

    Bytes bad_header = gz;
    bad_header[3] = 0xe0; // reserved flag bits: an invalid gzip header
    write_file(dir / "hdr.gz", bad_header);
    const std::string hdr = error_of([&] { (void)read_file_bytes(dir / "hdr.gz"); });
    CHECK(has(hdr, (dir / "hdr.gz").string()));
    CHECK(has(hdr, "zlib"));
  }
}

// ------------------------------------------------------------------------------------------
TEST_SUITE("idx") {
  TEST_CASE("round trip, plain and gzip, with limit") {
    TempDir dir;
    const std::uint32_t n = 7, rows = 3, cols = 4;
    write_file(dir / "img", idx_images(n, rows, cols));
    write_file(dir / "lab", idx_labels(n));
    write_gz(dir / "img.gz", idx_images(n, rows, cols));
    write_gz(dir / "lab.gz", idx_labels(n));

    for (const auto& files : {std::pair{"img", "lab"}, std::pair{"img.gz", "lab.gz"}}) {
      const std::string img = files.first, lab = files.second;
      CAPTURE(img);
      const Dataset ds = read_idx(dir / img, dir / lab);
      REQUIRE(ds.size() == n);
      REQUIRE(ds.dim() == rows * cols + 1);
      CHECK(ds.source == (dir / img).string());
      for (std::size_t i = 0; i < n; ++i) {
        CHECK(ds.features(i, 0) == 1.0F);
        for (std::size_t k = 0; k < rows * cols; ++k)
          CHECK(ds.features(i, k + 1) == static_cast<float>(pixel(i, k)));
        CHECK(ds.labels(i) == static_cast<float>(i % 10));
      }
    }
    const Dataset two = read_idx(dir / "img.gz", dir / "lab.gz", 2);
    CHECK(two.size() == 2);
    CHECK(two.features(1, 5) == static_cast<float>(pixel(1, 4)));
    CHECK(read_idx(dir / "img", dir / "lab", 100).size() == n); // a limit above N keeps all
  }

  TEST_CASE("IdxImages gives the rows of read_idx, scaled as MinMaxScaler scales rows, bit for bit") {
    TempDir dir;
    const std::uint32_t n = 37, rows = 5, cols = 7;
    Bytes img = idx_images(n, rows, cols);
    img[16 + 3 * rows * cols + 4] = 0; // a row whose min is 0 and one that is constant
    for (std::size_t k = 0; k < rows * cols; ++k) img[16 + 5 * rows * cols + k] = 9;
    write_gz(dir / "img.gz", img);
    write_gz(dir / "lab.gz", idx_labels(n));
    const IdxImages raw = IdxImages::read(dir / "img.gz", dir / "lab.gz");
    const Dataset plain = read_idx(dir / "img.gz", dir / "lab.gz");
    const Dataset as_is = raw.to_dataset();
    CHECK(as_is.features == plain.features);
    CHECK(as_is.labels == plain.labels);
    CHECK(raw.name() == (dir / "img.gz").string());
    for (const Range r : {Range::ZeroOne, Range::MinusOneOne}) {
      CAPTURE(static_cast<int>(r));
      Dataset scaled = plain;
      MinMaxScaler sc;
      sc.fit(scaled, r, Axis::Rows);
      sc.apply(scaled);
      IdxImages by_row = IdxImages::read(dir / "img.gz", dir / "lab.gz");
      by_row.scale_rows(r);
      std::vector<float> buf(by_row.dim());
      for (std::size_t i = 0; i < n; ++i) {
        const float* row = by_row.row(i, buf.data());
        for (std::size_t j = 0; j < by_row.dim(); ++j)
          CHECK(std::bit_cast<std::uint32_t>(row[j]) == std::bit_cast<std::uint32_t>(scaled.features(i, j)));
      }
      CHECK(by_row.to_dataset().features == scaled.features);
    }
    CHECK(IdxImages::read(dir / "img.gz", dir / "lab.gz", 4).size() == 4);
  }

  TEST_CASE("wrong magic names the file and the magic") {
    TempDir dir;
    write_file(dir / "img", idx_images(3, 2, 2));
    write_file(dir / "lab", idx_labels(3));
    write_file(dir / "img_bad", idx_images(3, 2, 2, 0x00000801));
    write_file(dir / "lab_bad", idx_labels(3, 0x00000803));

    const std::string a = error_of([&] { (void)read_idx(dir / "img_bad", dir / "lab"); });
    CHECK(has(a, (dir / "img_bad").string()));
    CHECK(has(a, "0x00000801"));
    CHECK(has(a, "0x00000803"));
    const std::string b = error_of([&] { (void)read_idx(dir / "img", dir / "lab_bad"); });
    CHECK(has(b, (dir / "lab_bad").string()));
    CHECK(has(b, "magic number 0x00000803"));
    // Images and labels swapped: a classic mistake.
    const std::string c = error_of([&] { (void)read_idx(dir / "lab", dir / "img"); });
    CHECK(has(c, "magic number"));
  }

  TEST_CASE("truncated data and header name the file and the sizes") {
    TempDir dir;
    Bytes img = idx_images(5, 4, 4);
    img.resize(img.size() - 3);
    write_file(dir / "img_cut", img);
    write_file(dir / "lab", idx_labels(5));
    const std::string a = error_of([&] { (void)read_idx(dir / "img_cut", dir / "lab"); });
    CHECK(has(a, (dir / "img_cut").string()));
    CHECK(has(a, "truncated"));
    CHECK(has(a, "5 images of 16 bytes"));
    CHECK(has(a, "77 bytes")); // 5 * 16 - 3

    Bytes lab = idx_labels(5);
    lab.pop_back();
    write_file(dir / "lab_cut", lab);
    write_file(dir / "img", idx_images(5, 4, 4));
    const std::string b = error_of([&] { (void)read_idx(dir / "img", dir / "lab_cut"); });
    CHECK(has(b, (dir / "lab_cut").string()));
    CHECK(has(b, "truncated"));
    CHECK(has(b, "5 labels"));

    Bytes header = idx_images(5, 4, 4);
    header.resize(10);
    write_file(dir / "img_hdr", header);
    const std::string c = error_of([&] { (void)read_idx(dir / "img_hdr", dir / "lab"); });
    CHECK(has(c, (dir / "img_hdr").string()));
    CHECK(has(c, "truncated"));
    CHECK(has(c, "10"));

    write_file(dir / "tiny", Bytes{0, 0});
    const std::string d = error_of([&] { (void)read_idx(dir / "tiny", dir / "lab"); });
    CHECK(has(d, (dir / "tiny").string()));

    // A header whose count * rows * cols overflows 64 bits must not wrap around.
    Bytes huge;
    put_be32(huge, 0x00000803);
    put_be32(huge, 0xffffffff);
    put_be32(huge, 0xffffffff);
    put_be32(huge, 0xffffffff);
    huge.resize(64, 0);
    write_file(dir / "huge", huge);
    const std::string e = error_of([&] { (void)read_idx(dir / "huge", dir / "lab"); });
    CHECK(has(e, "truncated"));
    CHECK(has(e, "4294967295"));
  }

  TEST_CASE("trailing bytes after the described data are an error") {
    TempDir dir;
    Bytes img = idx_images(2, 2, 2);
    img.push_back(9);
    write_file(dir / "img", img);
    write_file(dir / "lab", idx_labels(2));
    const std::string a = error_of([&] { (void)read_idx(dir / "img", dir / "lab"); });
    CHECK(has(a, (dir / "img").string()));
    CHECK(has(a, "1 bytes after"));
  }

  TEST_CASE("count mismatch names both files and both counts") {
    TempDir dir;
    write_file(dir / "img", idx_images(6, 2, 2));
    write_file(dir / "lab", idx_labels(5));
    const std::string a = error_of([&] { (void)read_idx(dir / "img", dir / "lab"); });
    CHECK(has(a, (dir / "img").string()));
    CHECK(has(a, (dir / "lab").string()));
    CHECK(has(a, "6 images"));
    CHECK(has(a, "5 labels"));
  }

  TEST_CASE("zero samples and zero-sized images") {
    TempDir dir;
    write_file(dir / "img0", idx_images(0, 2, 2));
    write_file(dir / "lab0", idx_labels(0));
    write_file(dir / "lab", idx_labels(1));
    const std::string a = error_of([&] { (void)read_idx(dir / "img0", dir / "lab0"); });
    CHECK(has(a, "zero"));
    CHECK(has(a, "lab0")); // labels are read first
    write_file(dir / "img00", idx_images(1, 0, 28));
    const std::string b = error_of([&] { (void)read_idx(dir / "img00", dir / "lab"); });
    CHECK(has(b, (dir / "img00").string()));
    CHECK(has(b, "0x28"));
  }

  TEST_CASE("corrupt gzip and missing files") {
    TempDir dir;
    write_gz(dir / "img.gz", idx_images(50, 28, 28));
    write_gz(dir / "lab.gz", idx_labels(50));
    const Bytes gz = read_raw(dir / "img.gz");
    write_file(dir / "img_cut.gz",
               Bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size() - 20)));
    const std::string a = error_of([&] { (void)read_idx(dir / "img_cut.gz", dir / "lab.gz"); });
    CHECK(has(a, (dir / "img_cut.gz").string()));
    CHECK(has(a, "zlib"));
    const std::string b = error_of([&] { (void)read_idx(dir / "absent.gz", dir / "lab.gz"); });
    CHECK(has(b, (dir / "absent.gz").string()));
    CHECK(has(b, "not found"));
  }
}

// ------------------------------------------------------------------------------------------
TEST_SUITE("fashion_mnist") {
  TEST_CASE("missing files: message names them and the Debian package") {
    TempDir dir;
    write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(4, 28, 28));
    const std::string msg = error_of([&] { (void)load_fashion_mnist(dir.path()); });
    CHECK(has(msg, "train-labels-idx1-ubyte.gz"));
    CHECK(has(msg, "t10k-images-idx3-ubyte.gz"));
    CHECK(has(msg, "t10k-labels-idx1-ubyte.gz"));
    CHECK_FALSE(has(msg, "train-images-idx3-ubyte.gz"));
    CHECK(has(msg, "sudo apt-get install dataset-fashion-mnist"));
  }

  TEST_CASE("loads the four files with limits") {
    TempDir dir;
    write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(12, 28, 28));
    write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels(12));
    write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_images(5, 28, 28));
    write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_labels(5));
    const TrainTest all = load_fashion_mnist(dir.path());
    CHECK(all.train.size() == 12);
    CHECK(all.test.size() == 5);
    CHECK(all.train.dim() == 785);
    const TrainTest some = load_fashion_mnist(dir.path(), 3, 2);
    CHECK(some.train.size() == 3);
    CHECK(some.test.size() == 2);
    CHECK(some.test.labels(1) == 1.0F);
  }
}

// ------------------------------------------------------------------------------------------
TEST_SUITE("libsvm") {
  TEST_CASE("basic parse, inferred number of features") {
    TempDir dir;
    const Dataset ds = libsvm_text(dir, "+1 1:0.5 3:-1.25\n-1 2:1e-3 4:.5\n0.75 1:2 4:-.5\n");
    REQUIRE(ds.size() == 3);
    REQUIRE(ds.dim() == 5);
    CHECK(ds.source == (dir / "data.libsvm").string());
    const float expect[3][5] = {
        {1, 0.5F, 0, -1.25F, 0}, {1, 0, 1e-3F, 0, 0.5F}, {1, 2, 0, 0, -0.5F}};
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 5; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        CHECK(ds.features(i, j) == expect[i][j]);
      }
    CHECK(ds.labels(0) == 1.0F);
    CHECK(ds.labels(1) == -1.0F);
    CHECK(ds.labels(2) == 0.75F);
  }

  TEST_CASE("explicit num_features, limit, gzip, label-only lines") {
    TempDir dir;
    const std::string text = "1 1:1 2:2\n2\n3 3:3\n";
    LibsvmOptions wide;
    wide.num_features = 10;
    const Dataset a = libsvm_text(dir, text, wide);
    CHECK(a.dim() == 11);
    CHECK(a.features(2, 3) == 3.0F);
    CHECK(a.features(1, 0) == 1.0F);
    CHECK(xt::sum(xt::view(a.features, 1, xt::range(1, 11)))() == 0.0F);

    LibsvmOptions first_two;
    first_two.limit = 2;
    const Dataset b = libsvm_text(dir, text, first_two);
    CHECK(b.size() == 2);
    CHECK(b.dim() == 3); // inferred from the lines read only

    write_gz(dir / "data.libsvm.gz", text);
    const Dataset c = read_libsvm(dir / "data.libsvm.gz");
    CHECK(c.size() == 3);
    CHECK(c.dim() == 4);
    CHECK(c.labels(2) == 3.0F);

    const Dataset d = libsvm_text(dir, "1\n-1\n");
    CHECK(d.dim() == 1); // only the bias
  }

  TEST_CASE("index bases: auto-detected zero, forced zero, forced one") {
    TempDir dir;
    const Dataset z = libsvm_text(dir, "1 0:0.5 3:1.25\n0 2:2\n");
    REQUIRE(z.dim() == 5); // indices 0..3 -> four features
    CHECK(z.features(0, 1) == 0.5F);
    CHECK(z.features(0, 4) == 1.25F);
    CHECK(z.features(1, 3) == 2.0F);

    LibsvmOptions zero;
    zero.index_base = IndexBase::Zero;
    const Dataset fz = libsvm_text(dir, "1 1:2\n", zero);
    CHECK(fz.dim() == 3);
    CHECK(fz.features(0, 2) == 2.0F);
    CHECK(fz.features(0, 1) == 0.0F);

    LibsvmOptions zero4 = zero;
    zero4.num_features = 4;
    CHECK(libsvm_text(dir, "1 3:1\n", zero4).features(0, 4) == 1.0F);
    check_libsvm_error("1 3:1\n-1 4:1\n", 2, "4:1", zero4);

    LibsvmOptions one;
    one.index_base = IndexBase::One;
    check_libsvm_error("1 1:1\n1 2:1 0:3\n", 2, "0:3", one);

    // Auto + num_features: the cap depends on the base the whole file implies.
    LibsvmOptions four;
    four.num_features = 4;
    CHECK(libsvm_text(dir, "1 4:1\n", four).dim() == 5);
    check_libsvm_error("1 4:1\n1 0:1\n", 1, "4:1", four);
  }

  TEST_CASE("comments, blank lines, CRLF, tabs, trailing spaces, qid") {
    TempDir dir;
    const std::string text =
        "# a header comment\r\n"
        "\r\n"
        "+1 qid:3 1:0.5 2:1 # trailing comment 9:9\r\n"
        "   \t \r\n"
        "-1\t3:2  \t\r\n"
        "#\n"
        "2 qid:7 1:-1e-3   ";
    const Dataset ds = libsvm_text(dir, text);
    REQUIRE(ds.size() == 3);
    REQUIRE(ds.dim() == 4);
    CHECK(ds.features(0, 1) == 0.5F);
    CHECK(ds.features(0, 2) == 1.0F);
    CHECK(ds.features(1, 3) == 2.0F);
    CHECK(ds.features(2, 1) == -1e-3F);
    CHECK(ds.labels(2) == 2.0F);
  }

  TEST_CASE("svm-scale style file (fixture in tests/data)") {
    const Dataset ds = read_libsvm(fs::path(ZIPML_TEST_DATA_DIR) / "tiny.libsvm");
    REQUIRE(ds.size() == 4);
    REQUIRE(ds.dim() == 5);
    CHECK(ds.labels(0) == 1.0F);
    CHECK(ds.labels(3) == -1.0F);
    CHECK(ds.features(0, 2) == -1.0F);
    CHECK(ds.features(2, 4) == -1.0F);
    CHECK(ds.features(3, 0) == 1.0F);
    CHECK(ds.features(3, 1) == 0.0F);
    check_range(ds, Range::MinusOneOne);
  }

  TEST_CASE("scikit-learn dump_svmlight_file style file") {
    TempDir dir;
    const Dataset ds = libsvm_text(dir,
                                   "# Generated by dump_svmlight_file from scikit-learn\n"
                                   "# Column indices are zero-based\n"
                                   "1.0 0:0.5 3:1.25\n"
                                   "0.0 1:2.000000000000000 2:-3.5e-05\n"
                                   "2.0 \n");
    REQUIRE(ds.size() == 3);
    REQUIRE(ds.dim() == 5);
    CHECK(ds.features(0, 1) == 0.5F);
    CHECK(ds.features(0, 4) == 1.25F);
    CHECK(ds.features(1, 2) == 2.0F);
    CHECK(ds.features(1, 3) == -3.5e-05F);
    CHECK(classes(ds) == std::vector<float>{0.0F, 1.0F, 2.0F});
  }

  TEST_CASE("tiny values underflow to zero instead of failing") {
    TempDir dir;
    const Dataset ds = libsvm_text(dir, "1 1:1e-50 2:-1e-400 3:1e-40\n");
    CHECK(ds.features(0, 1) == 0.0F);
    CHECK(ds.features(0, 2) == 0.0F);
    CHECK(ds.features(0, 3) > 0.0F);
  }

  TEST_CASE("malformed tokens name file, line and token") {
    check_libsvm_error("1 1:1\n1 abc\n", 2, "'abc'");
    check_libsvm_error("1 1:1\n\n1 2:xyz\n", 3, "2:xyz");
    check_libsvm_error("1 2:1.5x\n", 1, "2:1.5x");
    check_libsvm_error("1 2:\n", 1, "'2:'");
    check_libsvm_error("1 :3\n", 1, "':3'");
    check_libsvm_error("1 2:+-1\n", 1, "2:+-1");
    check_libsvm_error("abc 1:1\n", 1, "'abc'");
    check_libsvm_error("# c\n1:1 2:2\n", 2, "label is missing");
    check_libsvm_error("1 1:1e999\n", 1, "1:1e999");
    check_libsvm_error("\x01\x02x 1:1\n", 1, "'??x'"); // control bytes are masked
  }

  TEST_CASE("bad indices name file, line and token") {
    check_libsvm_error("1 1:1\n1 x:1\n", 2, "not a positive integer");
    check_libsvm_error("1 -1:1\n", 1, "-1:1");
    check_libsvm_error("1 1.5:1\n", 1, "1.5:1");
    check_libsvm_error("1 +2:1\n", 1, "+2:1");
    check_libsvm_error("1 99999999999:1\n", 1, "too large");
    LibsvmOptions three;
    three.num_features = 3;
    check_libsvm_error("1 1:1\n1 3:1\n1 2:1 7:0.5\n1 9:1\n", 3, "7:0.5", three);
    check_libsvm_error("1 3:1 3:2\n", 1, "index 3 appears twice");
  }

  TEST_CASE("NaN and infinity are rejected in values and labels") {
    check_libsvm_error("1 1:1\n1 1:nan\n", 2, "1:nan");
    check_libsvm_error("1 1:inf\n", 1, "not finite");
    check_libsvm_error("1 1:-infinity\n", 1, "1:-infinity");
    check_libsvm_error("1 1:1\n1 1:1\nnan 1:1\n", 3, "label 'nan'");
    check_libsvm_error("-inf 1:1\n", 1, "label '-inf' is not finite");
  }

  TEST_CASE("multi-label lines and empty files") {
    check_libsvm_error("1 1:1\n1,2 1:1\n", 2, "multi-label");
    check_libsvm_error("0,3 1:1\n", 1, "'0,3'");
    TempDir dir;
    write_file(dir / "empty.libsvm", "# nothing here\n\n   \n");
    const std::string a = error_of([&] { (void)read_libsvm(dir / "empty.libsvm"); });
    CHECK(has(a, (dir / "empty.libsvm").string()));
    CHECK(has(a, "no samples"));
    write_file(dir / "zero.libsvm", "");
    CHECK(has(error_of([&] { (void)read_libsvm(dir / "zero.libsvm"); }), "no samples"));
    CHECK(has(error_of([&] { (void)read_libsvm(dir / "missing.libsvm"); }), "not found"));
  }

  TEST_CASE("indices that go down are refused with file, line and token, as LIBSVM's tools do") {
    check_libsvm_error("-1 3:0.5 2:0.25\n", 1, "ascending order: 2 after 3 in '2:0.25'");
    check_libsvm_error("1 1:1 2:1\n-1 1:1 5:2 4:1\n", 2, "4:1");
    check_libsvm_error("1 qid:2 3:1 1:1 # 0:0\n", 1, "1 after 3");
    // Ascending on each line, whatever the line before ended with.
    TempDir dir;
    CHECK(libsvm_text(dir, "1 7:1\n-1 1:1 2:1\n").dim() == 8);
  }

  TEST_CASE("random round trip against a dense reference") {
    const unsigned seed = 20240611;
    INFO("seed=", seed);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-3.0F, 3.0F);
    std::bernoulli_distribution present(0.3);
    const std::size_t n = 200, d = 17;
    std::vector<float> dense(n * d, 0.0F);
    std::string text;
    for (std::size_t i = 0; i < n; ++i) {
      text += std::to_string(static_cast<int>(i % 3) - 1);
      std::vector<std::size_t> cols;
      for (std::size_t j = 1; j <= d; ++j)
        if (present(rng) || (i == 0 && j == d)) cols.push_back(j); // row 0 pins the width
      for (std::size_t j : cols) {
        const float v = value(rng);
        dense[i * d + (j - 1)] = v;
        char buf[32];
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        // Appended piecewise: "a" + std::string(...) trips GCC 12's false -Wrestrict at -O3.
        text += ' ';
        text += std::to_string(j);
        text += ':';
        text.append(buf, res.ptr);
      }
      text += i % 2 == 0 ? "\n" : " \r\n";
    }
    TempDir dir;
    const Dataset ds = libsvm_text(dir, text);
    REQUIRE(ds.size() == n);
    REQUIRE(ds.dim() == d + 1);
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(ds.labels(i) == static_cast<float>(static_cast<int>(i % 3) - 1));
      for (std::size_t j = 0; j < d; ++j) REQUIRE(ds.features(i, j + 1) == dense[i * d + j]);
    }
  }
}

// ------------------------------------------------------------------------------------------
TEST_SUITE("scaling") {
  TEST_CASE("columns, both ranges, constant column, bias untouched") {
    const Dataset base = make_dataset({{0, 10, 5, -2}, {5, 20, 5, 0}, {10, 30, 5, 2}}, {0, 1, 0});
    Dataset a = base;
    scale_features(a, Range::ZeroOne, Axis::Columns);
    const float e01[3][4] = {{0, 0, 0, 0}, {0.5F, 0.5F, 0, 0.5F}, {1, 1, 0, 1}};
    Dataset b = base;
    scale_features(b, Range::MinusOneOne, Axis::Columns);
    const float e11[3][4] = {{-1, -1, 0, -1}, {0, 0, 0, 0}, {1, 1, 0, 1}};
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(a.features(i, 0) == 1.0F);
      CHECK(b.features(i, 0) == 1.0F);
      for (std::size_t j = 1; j < 5; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        CHECK(a.features(i, j) == doctest::Approx(e01[i][j - 1]));
        CHECK(b.features(i, j) == doctest::Approx(e11[i][j - 1]));
      }
    }
    CHECK(a.labels(1) == 1.0F); // labels untouched
  }

  TEST_CASE("rows, both ranges, constant row") {
    const Dataset base = make_dataset({{2, 4, 6}, {3, 3, 3}, {-1, 1, 0}}, {0, 0, 0});
    Dataset a = base;
    scale_features(a, Range::ZeroOne, Axis::Rows);
    Dataset b = base;
    scale_features(b, Range::MinusOneOne, Axis::Rows);
    const float e01[3][3] = {{0, 0.5F, 1}, {0, 0, 0}, {0, 1, 0.5F}};
    const float e11[3][3] = {{-1, 0, 1}, {0, 0, 0}, {-1, 1, 0}};
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(a.features(i, 0) == 1.0F);
      CHECK(b.features(i, 0) == 1.0F);
      for (std::size_t j = 1; j < 4; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        CHECK(a.features(i, j) == doctest::Approx(e01[i][j - 1]));
        CHECK(b.features(i, j) == doctest::Approx(e11[i][j - 1]));
      }
    }
  }

  TEST_CASE("a scaler fit on training data scales a test set the same way, clipping") {
    Dataset train = make_dataset({{0, 10, 5}, {10, 30, 5}}, {0, 1});
    Dataset test = make_dataset({{5, 20, 7}, {-5, 40, 5}, {15, 0, 5}}, {1, 0, 1}, "test");
    MinMaxScaler s;
    CHECK_FALSE(s.fitted());
    CHECK_THROWS_WITH_AS(s.apply(test), doctest::Contains("before fit"), Error);
    s.fit(train, Range::MinusOneOne, Axis::Columns);
    CHECK(s.fitted());
    CHECK(s.min()[1] == 0.0F);
    CHECK(s.max()[2] == 30.0F);
    s.apply(train);
    s.apply(test);
    CHECK(test.features(0, 1) == doctest::Approx(0.0));
    CHECK(test.features(0, 2) == doctest::Approx(0.0));
    CHECK(test.features(0, 3) == 0.0F); // constant in training: no range, contributes nothing
    CHECK(test.features(1, 1) == -1.0F); // below the training minimum: clipped
    CHECK(test.features(1, 2) == 1.0F); // above the maximum: clipped
    CHECK(test.features(2, 1) == 1.0F);
    CHECK(test.features(2, 2) == -1.0F);
    for (std::size_t i = 0; i < 3; ++i) CHECK(test.features(i, 0) == 1.0F);
    check_range(test, Range::MinusOneOne);

    Dataset narrow = make_dataset({{1, 2}}, {0}, "narrow");
    const std::string msg = error_of([&] { s.apply(narrow); });
    CHECK(has(msg, "narrow"));
    CHECK(has(msg, "3 columns"));
    CHECK(has(msg, "4"));
  }

  TEST_CASE("random data scaled by columns and rows lands in range") {
    const unsigned seed = 77;
    INFO("seed=", seed);
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(3.0F, 100.0F);
    std::vector<std::vector<float>> rows(300, std::vector<float>(25));
    for (auto& r : rows)
      for (auto& v : r) v = dist(rng);
    for (const Range range : {Range::ZeroOne, Range::MinusOneOne}) {
      for (const Axis axis : {Axis::Columns, Axis::Rows}) {
        Dataset ds = make_dataset(rows, std::vector<float>(rows.size(), 0.0F), "random");
        scale_features(ds, range, axis);
        check_range(ds, range);
        validate(ds);
        const float lo = range == Range::ZeroOne ? 0.0F : -1.0F;
        if (axis == Axis::Columns) {
          for (std::size_t j = 1; j < ds.dim(); ++j) {
            CHECK(xt::amin(xt::view(ds.features, xt::all(), j))() == lo);
            CHECK(xt::amax(xt::view(ds.features, xt::all(), j))() == 1.0F);
          }
        } else {
          for (std::size_t i = 0; i < ds.size(); ++i) {
            CHECK(xt::amin(xt::view(ds.features, i, xt::range(1, ds.dim())))() == lo);
            CHECK(xt::amax(xt::view(ds.features, i, xt::range(1, ds.dim())))() == 1.0F);
          }
        }
      }
    }
  }

  TEST_CASE("ScaledRows gives the rows MinMaxScaler::apply leaves, bit for bit, both axes and ranges") {
    const unsigned seed = 78;
    INFO("seed=", seed);
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(-2.0F, 30.0F);
    std::vector<std::vector<float>> rows(200, std::vector<float>(17));
    for (auto& r : rows)
      for (auto& v : r) v = dist(rng);
    rows[3].assign(17, 5.0F); // a constant row, and so constant-free columns
    for (const Range range : {Range::ZeroOne, Range::MinusOneOne}) {
      for (const Axis axis : {Axis::Columns, Axis::Rows}) {
        const Dataset raw = make_dataset(rows, std::vector<float>(rows.size(), 1.0F), "random");
        MinMaxScaler scaler;
        scaler.fit(raw, range, axis);
        Dataset scaled = raw;
        scaler.apply(scaled);
        const DatasetRows source(raw);
        const ScaledRows view(source, scaler);
        std::vector<float> buf(raw.dim());
        for (std::size_t i = 0; i < raw.size(); ++i) {
          const float* r = view.row(i, buf.data());
          for (std::size_t j = 0; j < raw.dim(); ++j)
            REQUIRE(std::bit_cast<std::uint32_t>(r[j]) == std::bit_cast<std::uint32_t>(scaled.features(i, j)));
        }
      }
    }
    MinMaxScaler cols;
    cols.fit(make_dataset(rows, std::vector<float>(rows.size(), 1.0F)), Range::ZeroOne, Axis::Columns);
    const Dataset narrow = make_dataset({{1, 2}}, {0}, "narrow");
    const DatasetRows narrow_rows(narrow);
    CHECK_THROWS_WITH_AS(ScaledRows(narrow_rows, cols), doctest::Contains("narrow: has 3 columns, but the scaler was fit on 18"),
                         zipml::Error);
  }

  TEST_CASE("label scaling round trip") {
    Dataset ds = make_dataset({{0}, {0}, {0}}, {2, 4, 10});
    const LabelScaler s = scale_labels(ds, Range::ZeroOne);
    CHECK(s.min == 2.0F);
    CHECK(s.max == 10.0F);
    CHECK(ds.labels(0) == doctest::Approx(0.0));
    CHECK(ds.labels(1) == doctest::Approx(0.25));
    CHECK(ds.labels(2) == doctest::Approx(1.0));
    CHECK(s.from_scaled(0.25F) == doctest::Approx(4.0));
    CHECK(s.from_scaled(1.5F) == doctest::Approx(14.0)); // not clipped

    Dataset pm = make_dataset({{0}, {0}, {0}}, {2, 4, 10});
    const LabelScaler t = scale_labels(pm, Range::MinusOneOne);
    CHECK(pm.labels(0) == doctest::Approx(-1.0));
    CHECK(pm.labels(1) == doctest::Approx(-0.5));
    CHECK(pm.labels(2) == doctest::Approx(1.0));
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(t.from_scaled(pm.labels(i)) == doctest::Approx(ds.labels(i) * 8 + 2));

    Dataset flat = make_dataset({{0}, {0}}, {5, 5});
    const LabelScaler f = scale_labels(flat, Range::MinusOneOne);
    CHECK(flat.labels(0) == 0.0F);
    CHECK(f.from_scaled(0.0F) == 5.0F);

    const unsigned seed = 99;
    INFO("seed=", seed);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1000.0F, 1000.0F);
    std::vector<float> y(100);
    for (auto& v : y) v = dist(rng);
    Dataset r = make_dataset(std::vector<std::vector<float>>(100, {0.0F}), y);
    const LabelScaler rs = scale_labels(r, Range::MinusOneOne);
    for (std::size_t i = 0; i < y.size(); ++i) {
      CHECK(r.labels(i) >= -1.0F);
      CHECK(r.labels(i) <= 1.0F);
      CHECK(rs.from_scaled(r.labels(i)) == doctest::Approx(y[i]).epsilon(1e-5));
    }

    Dataset bad = make_dataset({{0}, {0}}, {1, std::numeric_limits<float>::quiet_NaN()}, "lbl");
    const std::string msg = error_of([&] { (void)scale_labels(bad, Range::ZeroOne); });
    CHECK(has(msg, "lbl"));
    CHECK(has(msg, "row 2"));
  }

  TEST_CASE("classes and binarize") {
    const Dataset ds = make_dataset({{0}, {0}, {0}, {0}, {0}}, {3, 1, 3, 0, 1});
    CHECK(classes(ds) == std::vector<float>{0, 1, 3});
    const xt::xtensor<float, 1> b = binarize(ds.labels, 3.0F);
    CHECK(b == xt::xtensor<float, 1>{1, -1, 1, -1, -1});
    CHECK(binarize(ds.labels, 7.0F) == xt::xtensor<float, 1>{-1, -1, -1, -1, -1});
  }

  TEST_CASE("validate names source, row, column and value") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    validate(make_dataset({{1, 2}, {3, 4}}, {0, 1}));

    const std::string a = error_of([&] {
      validate(make_dataset({{1, 2}, {3, nan}}, {0, 1}, "f.libsvm"));
    });
    CHECK(has(a, "f.libsvm"));
    CHECK(has(a, "row 2, column 2"));
    CHECK(has(a, "nan"));

    const std::string b = error_of([&] { validate(make_dataset({{1, 2}}, {-inf}, "g")); });
    CHECK(has(b, "row 1"));
    CHECK(has(b, "label -inf"));

    Dataset bias = make_dataset({{1, 2}, {3, 4}}, {0, 1}, "h");
    bias.features(1, 0) = 0.5F;
    const std::string c = error_of([&] { validate(bias); });
    CHECK(has(c, "row 2, column 0"));
    CHECK(has(c, "bias is 0.5"));

    Dataset empty;
    empty.source = "nothing.libsvm";
    const std::string d = error_of([&] { validate(empty); });
    CHECK(has(d, "nothing.libsvm"));
    CHECK(has(d, "empty"));

    Dataset short_labels = make_dataset({{1}, {2}}, {0}, "s");
    CHECK(has(error_of([&] { validate(short_labels); }), "2 samples but 1 labels"));

    CHECK(has(error_of([&] {
                MinMaxScaler s;
                s.fit(make_dataset({{inf}}, {0}, "fitme"), Range::ZeroOne, Axis::Columns);
              }),
              "fitme"));
  }

  TEST_CASE("check_range names source, row, column, value and the --scale hint") {
    check_range(make_dataset({{0, 1, 0.5F}}, {0}), Range::ZeroOne);
    check_range(make_dataset({{-1, 1, 0}}, {0}), Range::MinusOneOne);

    const std::string a = error_of([&] {
      check_range(make_dataset({{0, 1}, {0.5F, 1.5F}}, {0, 0}, "r"), Range::ZeroOne);
    });
    CHECK(has(a, "'r'"));
    CHECK(has(a, "row 2, column 2"));
    CHECK(has(a, "1.5"));
    CHECK(has(a, "[0, 1]"));
    CHECK(has(a, "scale the features with --scale"));

    const std::string b =
        error_of([&] { check_range(make_dataset({{-0.5F}}, {0}), Range::ZeroOne); });
    CHECK(has(b, "-0.5"));
    const std::string c =
        error_of([&] { check_range(make_dataset({{-1.5F}}, {0}), Range::MinusOneOne); });
    CHECK(has(c, "[-1, 1]"));
    const std::string nan_msg = error_of([&] {
      check_range(make_dataset({{std::numeric_limits<float>::quiet_NaN()}}, {0}), Range::ZeroOne);
    });
    CHECK(has(nan_msg, "nan"));

    Dataset bias = make_dataset({{0.5F}}, {0});
    bias.features(0, 0) = 7.0F; // the bias column is not a feature to range-check
    check_range(bias, Range::ZeroOne);
  }
}

TEST_CASE("libsvm: a stray huge index is refused before anything large is allocated") {
  TempDir dir;
  // 15 bytes asking for a 16 GiB dense row (found by the fuzzer): refused against the budget.
  LibsvmOptions opt;
  opt.max_bytes = std::size_t{64} << 20;
  try {
    (void)libsvm_text(dir, "1 4294967294:1\n", opt, "huge.libsvm");
    FAIL("no error");
  } catch (const zipml::Error& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(has(m, "huge.libsvm"));
    CHECK(has(m, "needs more than 64 MiB"));
    CHECK(has(m, "4294967294"));
    CHECK(has(m, "line 1"));
  }
  // The default budget (half the machine's memory) refuses it too.
  CHECK_THROWS_AS((void)libsvm_text(dir, "1 4294967294:1\n2\n3\n4\n5\n", {}, "huge2.libsvm"), zipml::Error);
  // A data set within the budget reads as usual.
  const auto ds = libsvm_text(dir, "1 3:0.5\n", opt, "fine.libsvm");
  CHECK(ds.dim() == 4);
}
