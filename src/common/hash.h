#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace tern {

// Content hash used for resource and type versions: the first 16 hex digits of SHA-256.
// Deterministic across processes and machines, so two tern replicas given the same input
// hand out identical versions.
std::string ContentHash(std::string_view bytes);

// Incremental form for hashing a sequence of parts (e.g. a type version over its resources).
// 128 bits of SHA-256 as two integers: a per-item digest that can be summed into an
// order-independent set hash (type versions, updated in O(1) when one item changes).
struct Digest128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool operator==(const Digest128&) const = default;
};
// Of the length-prefixed parts, as Hasher::Add would hash them.
Digest128 PartsDigest(std::string_view a, std::string_view b);
// Sum / difference modulo 2^128, and its 16 hex digits (first 64 bits of a SHA-256 over it).
Digest128 Add(Digest128 x, Digest128 y);
Digest128 Sub(Digest128 x, Digest128 y);
std::string DigestHex(Digest128 d, uint64_t count);

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void Add(std::string_view part);  // length-prefixed, so ("ab","c") != ("a","bc")
  std::string Finish();

 private:
  void* ctx_;
};

}  // namespace tern
