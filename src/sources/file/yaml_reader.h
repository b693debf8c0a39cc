#pragma once
// Checked reading of a parsed YAML document. yaml-cpp throws on every type mismatch and silently
// ignores keys nobody asks for; operators need the opposite: every mistake reported at once, each
// with "<file>:<line>:<col> <key path>", and a typo in a key name treated as an error instead of
// a default. MapReader remembers which keys were read so that Finish() can name the rest.
// Shared by the services.yaml decoder and the tern.yaml config loader.
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model.h"
#include "yaml-cpp/yaml.h"

namespace tern::sources::file {

// Parses "250ms", "2s", "1.5s", "1m", "1h" into whole milliseconds.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& text);

// Where problems go, and how locations are spelled.
class YamlContext {
 public:
  YamlContext(std::string label, std::vector<model::Problem>* problems)
      : label_(std::move(label)), problems_(problems) {}

  // "<label>:<line>:<col> <path>" with 1-based line/column; the position is left out when the
  // node has none (e.g. a key that is missing).
  std::string Origin(const YAML::Node& node, const std::string& path) const;
  std::string Origin(const YAML::Mark& mark, const std::string& path) const;
  void Error(const YAML::Node& node, const std::string& path, std::string message);
  void Error(const YAML::Mark& mark, const std::string& path, std::string message);
  size_t error_count() const { return errors_; }
  const std::string& label() const { return label_; }

 private:
  std::string label_;
  std::vector<model::Problem>* problems_;
  size_t errors_ = 0;
};

// Parses `text` into a document; a syntax error becomes a problem at the parser's position.
std::optional<YAML::Node> ParseYaml(const std::string& text, YamlContext& ctx);

// Joins `path` and a key ("a.b") or an index ("a[3]").
std::string JoinPath(const std::string& path, const std::string& key);
std::string IndexPath(const std::string& path, size_t index);

class MapReader {
 public:
  // A null node reads as an empty map (so "consul:" with nothing under it is allowed); any other
  // non-map node is reported and reads as empty.
  MapReader(YamlContext& ctx, const YAML::Node& node, std::string path);

  bool valid() const { return valid_; }
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  YamlContext& ctx() { return ctx_; }
  std::string PathOf(const std::string& key) const { return JoinPath(path_, key); }

  bool Has(const std::string& key) const;
  // Every (well-formed, first-seen) key, in document order; for maps with free-form keys.
  std::vector<std::string> Keys() const;
  // The value under `key` (an undefined node when absent); marks the key as known.
  YAML::Node Get(const std::string& key);

  // Typed getters: nullopt when the key is absent or its value is wrong (then a problem is
  // recorded). `required` reports an absent key.
  std::optional<std::string> String(const std::string& key, bool required = false);
  std::optional<uint32_t> Uint(const std::string& key, uint32_t min, uint32_t max,
                               bool required = false);
  std::optional<bool> Bool(const std::string& key);
  std::optional<std::chrono::milliseconds> Duration(const std::string& key, bool allow_zero);
  std::optional<std::vector<std::string>> StringList(const std::string& key);
  // One of `choices` (exact spelling); returns its index.
  std::optional<size_t> Enum(const std::string& key, const std::vector<std::string>& choices);

  // Reports a problem about the value under `key`, at the key's position (at the map's when the
  // key is absent), so that the location reads like the line an operator would edit.
  void Error(const std::string& key, std::string message);

  // Reports every key that was never asked for.
  void Finish();

 private:
  YamlContext& ctx_;
  YAML::Node node_;
  std::string path_;
  bool valid_ = true;
  struct Entry {
    std::string key;
    YAML::Node key_node;  // for the position of an unknown key
    YAML::Node value;
  };
  std::vector<Entry> entries_;
  std::set<std::string> used_;

  const YAML::Node& Where(const std::string& key) const;
};

// Checks that `node` is a sequence (null reads as empty); reports otherwise.
bool IsSequence(YamlContext& ctx, const YAML::Node& node, const std::string& path);

// Scalar conversions on a single node, reporting at `path`.
// `where` is the node whose position a problem names (defaults to `node`).
std::optional<std::string> ReadString(YamlContext& ctx, const YAML::Node& node,
                                      const std::string& path);
std::optional<std::string> ReadString(YamlContext& ctx, const YAML::Node& node,
                                      const YAML::Node& where, const std::string& path);
std::optional<uint32_t> ReadUint(YamlContext& ctx, const YAML::Node& node, const std::string& path,
                                 uint32_t min, uint32_t max);
std::optional<uint32_t> ReadUint(YamlContext& ctx, const YAML::Node& node, const YAML::Node& where,
                                 const std::string& path, uint32_t min, uint32_t max);

}  // namespace tern::sources::file
