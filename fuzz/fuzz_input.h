#pragma once
// A reader of fuzzer bytes as a sequence of small decisions (the same idea as libFuzzer's
// FuzzedDataProvider, which only clang ships; this one builds with GCC too, for the replay
// executables). Reading past the end yields zeros and empty strings, never an error.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace tern::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool Bool() { return Byte() & 1; }
  // A value in [0, n) (n >= 1).
  size_t Below(size_t n) { return n <= 1 ? 0 : Byte() % n; }
  // A string of up to `max` bytes: a length byte, then the bytes.
  std::string String(size_t max = 32) {
    size_t n = Below(max + 1);
    std::string out;
    while (n-- > 0 && pos_ < size_) out.push_back(static_cast<char>(data_[pos_++]));
    return out;
  }
  std::string Rest() {
    std::string out(reinterpret_cast<const char*>(data_ + pos_), size_ - std::min(pos_, size_));
    pos_ = size_;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Splits `text` at every occurrence of `sep` (for targets that take several documents).
inline std::vector<std::string> SplitAll(std::string_view text, std::string_view sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, at - start));
    start = at + sep.size();
  }
}

// A broken invariant: print what and where, then abort so that libFuzzer (or the replay run)
// reports the input.
[[noreturn]] inline void Fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what.c_str());
  std::abort();
}

}  // namespace tern::fuzz

#define FUZZ_CHECK(cond, what)                                      \
  do {                                                              \
    if (!(cond)) ::tern::fuzz::Fail(__FILE__, __LINE__, (what));    \
  } while (0)
