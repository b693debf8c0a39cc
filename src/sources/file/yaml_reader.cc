#include "sources/file/yaml_reader.h"

#include <exception>

#include "common/utf8.h"

namespace tern::sources::file {
namespace {

// Strict decimal: no sign, no spaces, no hex, so "-1" or "0x10" are reported rather than wrapped.
std::optional<uint64_t> ParseDigits(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "?";
}

}  // namespace

absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  auto bad = [&] {
    return absl::InvalidArgumentError("bad duration '" + text +
                                      "': expected a number and a unit, e.g. 250ms, 2s, 1.5s, 1m");
  };
  size_t unit_at = 0;
  while (unit_at < text.size() && ((text[unit_at] >= '0' && text[unit_at] <= '9') || text[unit_at] == '.')) {
    ++unit_at;
  }
  const std::string number = text.substr(0, unit_at);
  const std::string unit = text.substr(unit_at);
  uint64_t unit_ms = 0;
  if (unit == "ms") unit_ms = 1;
  else if (unit == "s") unit_ms = 1000;
  else if (unit == "m") unit_ms = 60 * 1000;
  else if (unit == "h") unit_ms = 3600 * 1000;
  else return bad();

  const size_t dot = number.find('.');
  const std::string whole = number.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : number.substr(dot + 1);
  if (whole.empty() || (dot != std::string::npos && frac.empty()) || frac.size() > 6) return bad();
  auto w = ParseDigits(whole);
  auto f = frac.empty() ? std::optional<uint64_t>(0) : ParseDigits(frac);
  if (!w || !f || *w > 1000ull * 1000 * 1000) return bad();
  uint64_t scale = 1;
  for (size_t i = 0; i < frac.size(); ++i) scale *= 10;
  const uint64_t frac_units = *f * unit_ms;
  if (frac_units % scale != 0) {
    return absl::InvalidArgumentError("bad duration '" + text + "': finer than a millisecond");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(*w * unit_ms + frac_units / scale));
}

std::string YamlContext::Origin(const YAML::Mark& mark, const std::string& path) const {
  std::string out = label_;
  if (!mark.is_null() && mark.line >= 0) {
    out += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  if (!path.empty()) out += " " + path;
  return out;
}

std::string YamlContext::Origin(const YAML::Node& node, const std::string& path) const {
  return Origin(node.IsDefined() ? node.Mark() : YAML::Mark::null_mark(), path);
}

void YamlContext::Error(const YAML::Mark& mark, const std::string& path, std::string message) {
  ++errors_;
  if (problems_) problems_->push_back({Origin(mark, path), std::move(message)});
}

void YamlContext::Error(const YAML::Node& node, const std::string& path, std::string message) {
  Error(node.IsDefined() ? node.Mark() : YAML::Mark::null_mark(), path, std::move(message));
}

std::optional<YAML::Node> ParseYaml(const std::string& text, YamlContext& ctx) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    ctx.Error(e.mark, "", "malformed YAML: " + e.msg);
  } catch (const std::exception& e) {
    ctx.Error(YAML::Mark::null_mark(), "", std::string("malformed YAML: ") + e.what());
  }
  return std::nullopt;
}

std::string JoinPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string IndexPath(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

MapReader::MapReader(YamlContext& ctx, const YAML::Node& node, std::string path)
    : ctx_(ctx), node_(node), path_(std::move(path)) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    valid_ = false;
    ctx_.Error(node, path_, std::string("expected a map, found ") + KindName(node));
    return;
  }
  for (const auto& kv : node) {
    const YAML::Node k = kv.first;
    if (!k.IsScalar()) {
      ctx_.Error(k, path_, "keys must be plain strings");
      continue;
    }
    const std::string key = k.Scalar();
    if (!IsValidUtf8(key)) {
      ctx_.Error(k, path_, "key '" + SanitizeUtf8(key) + "' is not valid UTF-8 text");
      continue;
    }
    bool duplicate = false;
    for (const auto& e : entries_) duplicate |= e.key == key;
    if (duplicate) {
      ctx_.Error(k, PathOf(key), "key appears twice");
      continue;
    }
    entries_.push_back({key, k, kv.second});
  }
}

const YAML::Node& MapReader::Where(const std::string& key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return e.key_node;
  }
  return node_;
}

void MapReader::Error(const std::string& key, std::string message) {
  used_.insert(key);  // a key we complain about is known; "unknown key" on top would mislead
  ctx_.Error(Where(key), PathOf(key), std::move(message));
}

std::vector<std::string> MapReader::Keys() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.key);
  return out;
}

bool MapReader::Has(const std::string& key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return true;
  }
  return false;
}

YAML::Node MapReader::Get(const std::string& key) {
  used_.insert(key);
  for (const auto& e : entries_) {
    if (e.key == key) return e.value;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::string> ReadString(YamlContext& ctx, const YAML::Node& node,
                                      const YAML::Node& where, const std::string& path) {
  if (!node.IsScalar()) {
    ctx.Error(where, path, std::string("expected a string, found ") + KindName(node));
    return std::nullopt;
  }
  // yaml-cpp passes bytes through; names and values end up in protobuf strings (which must be
  // UTF-8: Envoy would refuse them) and in JSON (/debug, the audit log).
  if (!IsValidUtf8(node.Scalar())) {
    ctx.Error(where, path, "'" + SanitizeUtf8(node.Scalar()) + "' is not valid UTF-8 text");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::string> ReadString(YamlContext& ctx, const YAML::Node& node,
                                      const std::string& path) {
  return ReadString(ctx, node, node, path);
}

std::optional<uint32_t> ReadUint(YamlContext& ctx, const YAML::Node& node, const YAML::Node& where,
                                 const std::string& path, uint32_t min, uint32_t max) {
  if (!node.IsScalar()) {
    ctx.Error(where, path, std::string("expected a number, found ") + KindName(node));
    return std::nullopt;
  }
  auto v = ParseDigits(node.Scalar());
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (!v) {
    ctx.Error(where, path, "'" + node.Scalar() + "' is not a whole number in " + range);
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    ctx.Error(where, path, std::to_string(*v) + " is out of range " + range);
    return std::nullopt;
  }
  return static_cast<uint32_t>(*v);
}

std::optional<uint32_t> ReadUint(YamlContext& ctx, const YAML::Node& node, const std::string& path,
                                 uint32_t min, uint32_t max) {
  return ReadUint(ctx, node, node, path, min, max);
}

bool IsSequence(YamlContext& ctx, const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull() || node.IsSequence()) return true;
  ctx.Error(node, path, std::string("expected a list, found ") + KindName(node));
  return false;
}

std::optional<std::string> MapReader::String(const std::string& key, bool required) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) {
    if (required) Error(key, "is required");
    return std::nullopt;
  }
  auto s = ReadString(ctx_, v, Where(key), PathOf(key));
  if (s && s->empty() && required) {
    Error(key, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<uint32_t> MapReader::Uint(const std::string& key, uint32_t min, uint32_t max,
                                        bool required) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) {
    if (required) Error(key, "is required");
    return std::nullopt;
  }
  return ReadUint(ctx_, v, Where(key), PathOf(key), min, max);
}

std::optional<bool> MapReader::Bool(const std::string& key) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (v.IsScalar() && v.Scalar() == "true") return true;
  if (v.IsScalar() && v.Scalar() == "false") return false;
  Error(key, "expected true or false");
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> MapReader::Duration(const std::string& key,
                                                             bool allow_zero) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  auto s = ReadString(ctx_, v, Where(key), PathOf(key));
  if (!s) return std::nullopt;
  auto d = ParseDuration(*s);
  if (!d.ok()) {
    Error(key, std::string(d.status().message()));
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    Error(key, "must be greater than zero");
    return std::nullopt;
  }
  return *d;
}

std::optional<std::vector<std::string>> MapReader::StringList(const std::string& key) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (!v.IsNull() && !v.IsSequence()) {
    Error(key, std::string("expected a list, found ") + KindName(v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  size_t i = 0;
  for (const auto& item : v) {
    auto s = ReadString(ctx_, item, IndexPath(PathOf(key), i++));
    if (s) out.push_back(*s);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<size_t> MapReader::Enum(const std::string& key,
                                      const std::vector<std::string>& choices) {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) return std::nullopt;
  auto s = ReadString(ctx_, v, Where(key), PathOf(key));
  if (!s) return std::nullopt;
  std::string all;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == *s) return i;
    all += (i ? ", " : "") + choices[i];
  }
  Error(key, "unknown value '" + *s + "' (expected one of: " + all + ")");
  return std::nullopt;
}

void MapReader::Finish() {
  for (const auto& e : entries_) {
    if (!used_.contains(e.key)) ctx_.Error(e.key_node, PathOf(e.key), "unknown key");
  }
}

}  // namespace tern::sources::file
