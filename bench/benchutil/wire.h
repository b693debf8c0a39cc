#pragma once
// Just enough protobuf wire-format reading for the load generator: it needs the names, versions
// and nonces of what it receives, not decoded Clusters, so it walks the bytes instead of paying
// for a full parse of every resource on every stream.
#include <cstdint>
#include <string_view>

namespace tern::bench {

class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  // Reads the next field. Length-delimited fields set `bytes`; varints set `varint`; fixed
  // fields are skipped over. False at the end or on malformed input (then `error()`).
  bool Next(uint32_t* field, uint32_t* wire_type, std::string_view* bytes, uint64_t* varint) {
    if (p_ >= end_) return false;
    uint64_t key;
    if (!Varint(&key)) return Fail();
    *field = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<uint32_t>(key & 7);
    switch (*wire_type) {
      case 0:
        return Varint(varint) || Fail();
      case 1:
        if (end_ - p_ < 8) return Fail();
        p_ += 8;
        return true;
      case 2: {
        uint64_t len;
        if (!Varint(&len) || static_cast<uint64_t>(end_ - p_) < len) return Fail();
        *bytes = std::string_view(reinterpret_cast<const char*>(p_), len);
        p_ += len;
        return true;
      }
      case 5:
        if (end_ - p_ < 4) return Fail();
        p_ += 4;
        return true;
      default:
        return Fail();
    }
  }
  bool error() const { return error_; }

 private:
  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      uint8_t b = *p_++;
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Fail() {
    error_ = true;
    return false;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool error_ = false;
};

// The first length-delimited field `number` of a message (e.g. a resource's name, field 1 in
// Listener, Cluster, RouteConfiguration and ClusterLoadAssignment).
inline std::string_view StringField(std::string_view msg, uint32_t number) {
  WireReader r(msg);
  uint32_t f, wt;
  std::string_view b;
  uint64_t v;
  while (r.Next(&f, &wt, &b, &v)) {
    if (f == number && wt == 2) return b;
  }
  return {};
}

}  // namespace tern::bench
