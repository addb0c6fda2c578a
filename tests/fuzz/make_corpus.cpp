// Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (a few KB per
// target). The files are committed; rerun this only to change them:
//
//   g++ -std=c++20 -O1 -DXTENSOR_USE_XSIMD -Iinclude -Ibackends/cpu/include \
//       tests/fuzz/make_corpus.cpp -lz -pthread -o /tmp/make_corpus && /tmp/make_corpus tests/fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <zlib.h>

#include "zipml/io.hpp"
#include "zipml/io/stream_file.hpp"
#include "zipml/zipml.hpp"

namespace fs = std::filesystem;
using namespace zipml;
using Bytes = std::vector<unsigned char>;

namespace {

fs::path g_root;

void put(const std::string& target, const std::string& name, const Bytes& b) {
  fs::create_directories(g_root / target);
  std::ofstream f(g_root / target / name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void put(const std::string& target, const std::string& name, const std::string& s) {
  put(target, name, Bytes(s.begin(), s.end()));
}

Bytes gzip(const Bytes& in) {
  const fs::path tmp = fs::temp_directory_path() / "zipml-make-corpus.gz";
  gzFile f = gzopen(tmp.c_str(), "wb9");
  gzwrite(f, in.data(), static_cast<unsigned>(in.size()));
  gzclose(f);
  std::ifstream r(tmp, std::ios::binary);
  Bytes out{std::istreambuf_iterator<char>(r), std::istreambuf_iterator<char>()};
  fs::remove(tmp);
  return out;
}

void be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

Bytes idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
  Bytes b;
  be32(b, 0x803);
  be32(b, n);
  be32(b, rows);
  be32(b, cols);
  for (std::uint32_t i = 0; i < n * rows * cols; ++i) b.push_back(static_cast<unsigned char>(i * 37 + 11));
  return b;
}

Bytes idx_labels(std::uint32_t n) {
  Bytes b;
  be32(b, 0x801);
  be32(b, n);
  for (std::uint32_t i = 0; i < n; ++i) b.push_back(static_cast<unsigned char>(i % 10));
  return b;
}

data::Dataset small(std::size_t n, std::size_t d, std::size_t classes, std::uint64_t seed, bool minus_one_one) {
  SplitMix64 rng(seed);
  data::Dataset ds;
  ds.source = "seed";
  ds.features = xt::zeros<float>({n, d});
  ds.labels = xt::zeros<float>({n});
  for (std::size_t i = 0; i < n; ++i) {
    ds.features(i, 0) = 1.0f;
    float s = 0.0f;
    for (std::size_t j = 1; j < d; ++j) {
      const float u = rng.uniform();
      ds.features(i, j) = minus_one_one ? 2.0f * u - 1.0f : u;
      s += (j % 2 ? 1.0f : -1.0f) * u;
    }
    ds.labels(i) = classes ? static_cast<float>(static_cast<std::size_t>(std::fabs(s) * 7) % classes) : s;
  }
  return ds;
}

template <class P>
void packed_seed(const std::string& name, const data::Dataset& ds, bool minus_one_one, bool double_sampled) {
  stream::PackOptions o;
  o.range = minus_one_one ? data::Range::MinusOneOne : data::Range::ZeroOne;
  o.double_sampled = double_sampled;
  o.seed = 7;
  o.threads = 1;
  const auto ps = stream::pack<P>(ds, o);
  static constexpr unsigned kBits[] = {32, 8, 4, 2, 1};
  unsigned sel = 0;
  while (kBits[sel] != P::bits) ++sel;
  Bytes b = {static_cast<unsigned char>(sel),
             static_cast<unsigned char>((minus_one_one ? 1 : 0) | (double_sampled ? 2 : 0)),
             static_cast<unsigned char>(ds.dim() & 0xff), static_cast<unsigned char>(ds.dim() >> 8)};
  for (auto w : ps.words)
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(w >> (8 * i)));
  put("packed", name, b);
}

//! A packed stream file (.zps) of `ds` packed with P: small (a few rows), so the seed is the
//! 4096-byte header page plus a few hundred bytes of data.
template <class P>
void stream_file_seed(const std::string& name, data::Dataset ds, bool minus_one_one, bool double_sampled,
                      bool classifier, int scaling) {
  const auto range = minus_one_one ? data::Range::MinusOneOne : data::Range::ZeroOne;
  std::optional<data::MinMaxScaler> scaler;
  if (scaling != 0) {
    scaler.emplace();
    scaler->fit(ds, range, scaling == 1 ? data::Axis::Rows : data::Axis::Columns);
    scaler->apply(ds);
  }
  std::optional<data::LabelScaler> labels;
  if (!classifier) labels = data::scale_labels(ds, range);
  stream::PackOptions o;
  o.range = range;
  o.double_sampled = double_sampled;
  o.seed = 7;
  o.threads = 1;
  const auto ps = stream::pack<P>(ds, o);
  io::StreamFileInfo f = io::stream_file_info<P>(ps, o);
  if (classifier) f.classes = data::classes(ds);
  f.scaler = scaler;
  f.label_scaler = labels;
  if (scaling != 0) f.mean_sq_norm = 0.5 + scaling; // else unknown (NaN)
  f.source = ds.source;
  put("stream_file", name, io::serialize_stream(f, ps));
}

//! A bit-plane stream file (storage 1) of `ds` packed with P as bit planes.
template <class P>
void stream_file_planes_seed(const std::string& name, const data::Dataset& ds) {
  stream::PackOptions o;
  o.seed = 7;
  o.threads = 1;
  const auto planes = stream::pack_planes<P>(ds, o);
  io::StreamFileInfo f = io::stream_file_info<P>(planes, o);
  f.classes = data::classes(ds);
  f.source = ds.source;
  put("stream_file", name, io::serialize_stream(f, planes));
}

} // namespace

int main(int argc, char** argv) {
  g_root = argc > 1 ? argv[1] : "tests/fuzz/corpus";

  // IDX: valid pairs (plain and gzip), and the shapes of the usual mistakes.
  put("idx", "images-3x2x2", idx_images(3, 2, 2));
  put("idx", "labels-3", idx_labels(3));
  put("idx", "images-2x28x1.gz", gzip(idx_images(2, 28, 1)));
  put("idx", "labels-5.gz", gzip(idx_labels(5)));
  Bytes cut = idx_images(2, 3, 3);
  cut.resize(cut.size() - 4);
  put("idx", "images-truncated", cut);
  Bytes extra = idx_labels(2);
  extra.push_back(9);
  put("idx", "labels-trailing", extra);
  Bytes gz = gzip(idx_images(1, 4, 4));
  gz.resize(gz.size() - 6);
  put("idx", "images-truncated.gz", gz);

  // LIBSVM: the accepted syntax and the refused one.
  put("libsvm", "basic", "+1 1:0.5 3:1\n-1 2:0.25 4:-3e-2\n");
  put("libsvm", "zero-based", "0 0:1 2:0.5\n1 1:2\n2 0:-1 qid:3 2:.5\n");
  put("libsvm", "comments-crlf", "# header\r\n1 1:1e-3 # rest\r\n\r\n\t-1\t2:+2 \r\n3\n");
  put("libsvm", "label-only", "1\n2\n3 5:1\n");
  put("libsvm", "errors", "1 3:abc\n");
  put("libsvm", "multilabel", "1,2 1:1\n");
  put("libsvm", "dup-index", "1 3:1 3:2\n");
  put("libsvm", "big-index", "1 70000:1\n");
  put("libsvm", "nan", "nan 1:1\n1 2:inf\n");
  put("libsvm", "gzip.gz", gzip(Bytes{'1', ' ', '1', ':', '1', '\n', '-', '1', ' ', '2', ':', '0', '.', '5', '\n'}));

  // Packed streams from the packer, one per precision and range.
  const auto ds01 = small(3, 9, 2, 1, false), ds11 = small(3, 9, 2, 2, true);
  packed_seed<Float32>("float32", ds01, false, false);
  packed_seed<Quantized<8>>("q8", ds01, false, false);
  packed_seed<Quantized<4, Stochastic>>("q4-minus-one-one-double", ds11, true, true);
  packed_seed<Quantized<2>>("q2-minus-one-one", ds11, true, false);
  packed_seed<Quantized<1>>("q1", ds01, false, false);

  // Packed stream files: each precision, both ranges, double sampling, both scalings.
  stream_file_seed<Quantized<8>>("q8-classes-columns", small(4, 9, 3, 6, false), false, false, true, 2);
  stream_file_seed<Float32>("float32-regression-rows", small(3, 5, 0, 7, false), false, false, false, 1);
  stream_file_seed<Quantized<2, Stochastic>>("q2-minus-one-one-double", small(3, 9, 2, 8, true), true, true, true, 0);
  stream_file_seed<Quantized<1>>("q1-classes", small(5, 70, 2, 9, false), false, false, true, 0);
  // (the four above are format version 1 files, kept as they were: version 1 still loads)
  stream_file_planes_seed<Quantized<2, Stochastic>>("q2-planes-v2", small(3, 9, 2, 10, false));

  // Saved models: a classifier with a column scaler, a regression with both scalers, a binary
  // logistic model.
  {
    auto ds = small(60, 4, 3, 3, false);
    data::MinMaxScaler sc;
    sc.fit(ds, data::Range::ZeroOne, data::Axis::Columns);
    Options o;
    o.epochs = 1;
    o.step = 1.0f / 16;
    Sgd<L2Svm, Quantized<4>, Cpu> sgd(o, L2Svm{1.0f, 1.5f});
    sgd.fit(ds);
    put("model", "l2svm-q4-3class", io::serialize_model(io::snapshot(sgd, sc)));
  }
  {
    auto ds = small(60, 3, 0, 4, true);
    data::MinMaxScaler sc;
    sc.fit(ds, data::Range::MinusOneOne, data::Axis::Rows);
    const auto ls = data::scale_labels(ds, data::Range::MinusOneOne);
    Options o;
    o.epochs = 1;
    o.step = 1.0f / 16;
    o.range = data::Range::MinusOneOne;
    o.arithmetic = Arithmetic::Engine;
    Sgd<LeastSquares, Quantized<8, Stochastic>, Cpu> sgd(o);
    sgd.fit(ds);
    put("model", "least-squares-q8-scalers", io::serialize_model(io::snapshot(sgd, sc, ls)));
  }
  {
    auto ds = small(40, 2, 2, 5, false);
    Options o;
    o.epochs = 1;
    o.step = 1.0f / 16;
    o.positive_label = 1.0f;
    Sgd<Logistic, Float32, Cpu> sgd(o);
    sgd.fit(ds);
    put("model", "logistic-float32-binary", io::serialize_model(io::snapshot(sgd)));
  }
  std::printf("corpora written to %s\n", g_root.c_str());
  return 0;
}
