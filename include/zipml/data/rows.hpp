// zipml — a source of training rows: what the packer and the step rule read.
//
// A Dataset holds its rows as a float matrix. A source made on the fly (IdxImages: the bytes
// of an IDX file, scaled as each row is asked for) gives the same rows without the matrix, so
// that reading, scaling and packing are one pass over the bytes.
#ifndef ZIPML_DATA_ROWS_HPP
#define ZIPML_DATA_ROWS_HPP

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "zipml/data/dataset.hpp"

namespace zipml::data {

//! Rows 0..size()-1 of dim() features (the bias, 1, first) and a label each. row(i, buf)
//! returns the row: in `buf` (room for dim() floats) or in the source's own memory. It may be
//! called from several threads at once, each with its own buffer.
template <class S>
concept RowSource = requires(const S& s, std::size_t i, float* buf) {
  { s.size() } -> std::convertible_to<std::size_t>;
  { s.dim() } -> std::convertible_to<std::size_t>;
  { s.name() } -> std::convertible_to<std::string>;
  { s.row(i, buf) } -> std::same_as<const float*>;
  { s.label(i) } -> std::convertible_to<float>;
};

//! A Dataset as a RowSource: its matrix rows, no copy.
class DatasetRows {
 public:
  explicit DatasetRows(const Dataset& ds) noexcept : ds_(&ds) {}
  [[nodiscard]] std::size_t size() const noexcept { return ds_->size(); }
  [[nodiscard]] std::size_t dim() const noexcept { return ds_->dim(); }
  [[nodiscard]] std::string name() const { return ds_->source.empty() ? std::string("data set") : ds_->source; }
  [[nodiscard]] const float* row(std::size_t i, float*) const noexcept { return ds_->features.data() + i * dim(); }
  [[nodiscard]] float label(std::size_t i) const noexcept { return ds_->labels(i); }
  [[nodiscard]] const Dataset& dataset() const noexcept { return *ds_; }

 private:
  const Dataset* ds_;
};

static_assert(RowSource<DatasetRows>);

//! Some rows of a RowSource, in a given order (a rank's share of a data set): row i is the
//! source's row `index[i]`. Views both: they must outlive it.
template <RowSource Rows>
class RowSubset {
 public:
  RowSubset(const Rows& rows, std::span<const std::uint32_t> index) noexcept : rows_(&rows), index_(index) {}
  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] std::size_t dim() const noexcept { return rows_->dim(); }
  [[nodiscard]] std::string name() const { return rows_->name(); }
  [[nodiscard]] const float* row(std::size_t i, float* buf) const { return rows_->row(index_[i], buf); }
  [[nodiscard]] float label(std::size_t i) const { return rows_->label(index_[i]); }

 private:
  const Rows* rows_;
  std::span<const std::uint32_t> index_;
};

} // namespace zipml::data

#endif
