#pragma once
// Minimal protobuf wire-format writers, used to assemble xDS responses from pre-serialized
// resource bytes without re-serializing them.
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::wire {

inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// A length-delimited field (strings, bytes, embedded messages).
inline void PutBytes(std::string& out, uint32_t field, std::string_view bytes) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

inline void PutUint(std::string& out, uint32_t field, uint64_t v) {
  PutVarint(out, static_cast<uint64_t>(field) << 3);
  PutVarint(out, v);
}

}  // namespace tern::wire
