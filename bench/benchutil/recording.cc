#include "recording.h"

#include <cstdio>
#include <cstring>

namespace tern::bench {
namespace {
constexpr char kMagic[8] = {'T', 'R', 'N', 'R', 'E', 'C', '1', '\n'};

void PutU32(std::string& out, uint32_t v) {
  char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  out.append(b, 4);
}
void PutStr(std::string& out, const std::string& s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out += s;
}
bool GetU32(const std::string& in, size_t& pos, uint32_t* v) {
  if (in.size() - pos < 4) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data() + pos);
  *v = p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
  pos += 4;
  return true;
}
bool GetStr(const std::string& in, size_t& pos, std::string* s) {
  uint32_t n;
  if (!GetU32(in, pos, &n) || in.size() - pos < n) return false;
  s->assign(in, pos, n);
  pos += n;
  return true;
}
}  // namespace

bool WriteRecording(const std::string& path, const std::vector<Recorded>& records) {
  std::string out(kMagic, sizeof kMagic);
  for (const auto& r : records) {
    PutU32(out, r.phase);
    PutU32(out, r.delta ? 1 : 0);
    PutStr(out, r.node_cluster);
    PutStr(out, r.type_url);
    PutStr(out, r.bytes);
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  return std::fclose(f) == 0 && ok;
}

bool ReadRecording(const std::string& path, std::vector<Recorded>* records) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::string in;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) in.append(buf, n);
  std::fclose(f);
  if (in.size() < sizeof kMagic || std::memcmp(in.data(), kMagic, sizeof kMagic) != 0) return false;
  size_t pos = sizeof kMagic;
  while (pos < in.size()) {
    Recorded r;
    uint32_t delta;
    if (!GetU32(in, pos, &r.phase) || !GetU32(in, pos, &delta) || !GetStr(in, pos, &r.node_cluster) ||
        !GetStr(in, pos, &r.type_url) || !GetStr(in, pos, &r.bytes)) {
      return false;
    }
    r.delta = delta != 0;
    records->push_back(std::move(r));
  }
  return true;
}

}  // namespace tern::bench
