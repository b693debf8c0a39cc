#pragma once
#include <string>
#include <string_view>

namespace tern {

// Content hash used for resource and type versions: the first 16 hex digits of SHA-256.
// Deterministic across processes and machines, so two tern replicas given the same input
// hand out identical versions.
std::string ContentHash(std::string_view bytes);

// Incremental form for hashing a sequence of parts (e.g. a type version over its resources).
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
