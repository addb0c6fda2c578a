// zipml — the storage of a packed stream's words: an owned buffer, or a view of a file mapping.
//
// A stream packed in this process owns its words (a std::vector, as before). A stream loaded
// from a packed stream file (io/stream_file.hpp) views the words of a read-only file mapping
// and keeps the mapping alive, so training from a file neither parses nor copies it.
//
// WordStore reads and writes like the std::vector<Word> it replaced (size, data, [], begin/end,
// resize, assign, reserve, assignment from a vector), so code written for the vector compiles
// unchanged. Writes into a mapped store go to the mapping's private copy-on-write pages, never
// to the file (the mapping is MAP_PRIVATE). An operation that changes the size (resize, assign,
// reserve, clear) first copies the mapped words into an owned vector.
//
// Copying a WordStore copies its words into an owned vector: the copy and the original never
// share writable pages. Move a loaded stream (Sgd::fit(std::move(loaded.stream))) to keep its
// mapping instead of copying it.
#ifndef ZIPML_STREAM_WORD_STORE_HPP
#define ZIPML_STREAM_WORD_STORE_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <sys/mman.h>

#include "zipml/stream/format.hpp"

namespace zipml::stream {

//! A region of memory mapped with mmap, unmapped when the last store viewing it goes away.
class MappedRegion {
 public:
  MappedRegion(void* base, std::size_t length) noexcept : base_(base), length_(length) {}
  ~MappedRegion() {
    if (base_ != nullptr && base_ != MAP_FAILED) (void)::munmap(base_, length_);
  }
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  [[nodiscard]] void* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t length() const noexcept { return length_; }

 private:
  void* base_;
  std::size_t length_;
};

//! A packed stream's 64-bit words: owned (a std::vector) or viewed in a file mapping that the
//! store keeps alive (see the file comment).
class WordStore {
 public:
  using value_type = Word;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = Word&;
  using const_reference = const Word&;
  using pointer = Word*;
  using const_pointer = const Word*;
  using iterator = Word*;
  using const_iterator = const Word*;

  WordStore() = default;
  //! Takes the vector's words (implicit, so `s.words = std::move(vec)` keeps working).
  WordStore(std::vector<Word> words) noexcept : owned_(std::move(words)) {} // NOLINT(google-explicit-constructor)
  WordStore(std::initializer_list<Word> words) : owned_(words) {}
  //! A view of `count` words at `words`, inside `mapping`, which the store keeps alive. The
  //! words must be writable memory (a MAP_PRIVATE mapping with PROT_WRITE: the store's writes).
  [[nodiscard]] static WordStore mapped(std::shared_ptr<const MappedRegion> mapping, Word* words, std::size_t count) {
    WordStore s;
    s.mapping_ = std::move(mapping);
    s.mapped_ = words;
    s.mapped_size_ = count;
    return s;
  }

  //! A view of `count` words at `words` that owns nothing: the words must outlive the store
  //! (Sgd trains a part of a stream through one). Reads like a mapped store.
  [[nodiscard]] static WordStore view(const Word* words, std::size_t count) {
    static const auto kNothing = std::make_shared<const MappedRegion>(nullptr, 0);
    return mapped(kNothing, const_cast<Word*>(words), count); // NOLINT(cppcoreguidelines-pro-type-const-cast): read only
  }

  //! Copies the words into an owned vector (also when `other` is mapped).
  WordStore(const WordStore& other) : owned_(other.begin(), other.end()) {}
  WordStore& operator=(const WordStore& other) {
    if (this != &other) *this = WordStore(other);
    return *this;
  }
  //! Takes the words (owned or mapped); `other` is left empty and owned.
  WordStore(WordStore&& other) noexcept
      : owned_(std::move(other.owned_)), mapping_(std::move(other.mapping_)),
        mapped_(std::exchange(other.mapped_, nullptr)), mapped_size_(std::exchange(other.mapped_size_, 0)) {
    other.owned_.clear();
  }
  WordStore& operator=(WordStore&& other) noexcept {
    if (this != &other) {
      owned_ = std::move(other.owned_);
      other.owned_.clear();
      mapping_ = std::move(other.mapping_);
      mapped_ = std::exchange(other.mapped_, nullptr);
      mapped_size_ = std::exchange(other.mapped_size_, 0);
    }
    return *this;
  }
  ~WordStore() = default;

  //! Whether the words are a view of a file mapping (loaded, not copied).
  [[nodiscard]] bool is_mapped() const noexcept { return mapping_ != nullptr; }
  //! The mapping the words are in (null when owned).
  [[nodiscard]] const std::shared_ptr<const MappedRegion>& mapping() const noexcept { return mapping_; }

  [[nodiscard]] std::size_t size() const noexcept { return is_mapped() ? mapped_size_ : owned_.size(); }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] Word* data() noexcept { return is_mapped() ? mapped_ : owned_.data(); }
  [[nodiscard]] const Word* data() const noexcept { return is_mapped() ? mapped_ : owned_.data(); }
  [[nodiscard]] Word& operator[](std::size_t i) noexcept { return data()[i]; }
  [[nodiscard]] const Word& operator[](std::size_t i) const noexcept { return data()[i]; }
  [[nodiscard]] Word* begin() noexcept { return data(); }
  [[nodiscard]] Word* end() noexcept { return data() + size(); }
  [[nodiscard]] const Word* begin() const noexcept { return data(); }
  [[nodiscard]] const Word* end() const noexcept { return data() + size(); }
  [[nodiscard]] const Word* cbegin() const noexcept { return begin(); }
  [[nodiscard]] const Word* cend() const noexcept { return end(); }
  [[nodiscard]] Word& front() noexcept { return *begin(); }
  [[nodiscard]] const Word& front() const noexcept { return *begin(); }
  [[nodiscard]] Word& back() noexcept { return *(end() - 1); }
  [[nodiscard]] const Word& back() const noexcept { return *(end() - 1); }
  //! The words, for readers.
  [[nodiscard]] std::span<const Word> view() const noexcept { return {data(), size()}; }

  //! The owned vector, the mapped words copied into it first (the mapping is released).
  std::vector<Word>& make_owned() {
    if (is_mapped()) {
      std::vector<Word> copy(mapped_, mapped_ + mapped_size_);
      release_mapping();
      owned_ = std::move(copy);
    }
    return owned_;
  }
  void resize(std::size_t n) { make_owned().resize(n); }
  void resize(std::size_t n, Word value) { make_owned().resize(n, value); }
  void reserve(std::size_t n) { make_owned().reserve(n); }
  void clear() noexcept {
    release_mapping();
    owned_.clear();
  }
  void push_back(Word w) { make_owned().push_back(w); }
  void assign(std::size_t n, Word value) {
    release_mapping();
    owned_.assign(n, value);
  }
  template <std::input_iterator It>
  void assign(It first, It last) {
    // The range may be this store's own mapped words: copy before releasing the mapping.
    std::vector<Word> words(first, last);
    release_mapping();
    owned_ = std::move(words);
  }
  void assign(std::initializer_list<Word> words) { assign(words.begin(), words.end()); }

  //! A copy as a std::vector, for code that takes `const std::vector<Word>&`.
  [[nodiscard]] std::vector<Word> to_vector() const { return {begin(), end()}; }
  operator std::vector<Word>() const { return to_vector(); } // NOLINT(google-explicit-constructor)

  friend bool operator==(const WordStore& a, const WordStore& b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  void release_mapping() noexcept {
    mapping_.reset();
    mapped_ = nullptr;
    mapped_size_ = 0;
  }

  std::vector<Word> owned_;
  std::shared_ptr<const MappedRegion> mapping_; //!< non-null: the words are mapped_[0, mapped_size_)
  Word* mapped_ = nullptr;
  std::size_t mapped_size_ = 0;
};

} // namespace zipml::stream

#endif
