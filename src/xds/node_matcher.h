#pragma once
// Which proxies a CSDS request asks about: ClientStatusRequest.node_matchers, each an
// envoy.type.matcher.v3.NodeMatcher, compiled once per request.
//
// Semantics (envoy/type/matcher/v3/{node,string,struct,value}.proto): the matchers are ORed; no
// matcher selects every proxy. Within one NodeMatcher, node_id (if set) and every node_metadatas
// entry must match. A StructMatcher walks its path of keys into node.metadata and matches the
// value found there:
//  * string matchers: exact, prefix, suffix, contains (ignore_case: ASCII case-insensitive), and
//    safe_regex, which must match the whole string (RE2; ignore_case does not apply to it, as in
//    Envoy);
//  * value matchers: null_match, double_match (exact, or range [start, end)), string_match,
//    bool_match, present_match (true: the path exists; false: it does not), list_match.one_of (a
//    list with an element that matches), or_match.
// A path that does not exist matches nothing except present_match: false.
// Anything else (custom string matchers, an unset oneof, an empty prefix, a bad regex) is refused
// with INVALID_ARGUMENT naming the field, e.g. "node_matchers[0].node_id.safe_regex.regex: ...".
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace google::protobuf {
class Struct;
class Value;
template <typename T>
class RepeatedPtrField;
}  // namespace google::protobuf
namespace re2 {
class RE2;
}
namespace envoy::type::matcher::v3 {
class NodeMatcher;
class StringMatcher;
class ValueMatcher;
}  // namespace envoy::type::matcher::v3

namespace tern::xds {

class StringMatch {
 public:
  // `where` names the field in errors.
  static absl::StatusOr<StringMatch> Compile(const envoy::type::matcher::v3::StringMatcher& m, const std::string& where);
  bool Matches(std::string_view s) const;

 private:
  enum class Kind { kExact, kPrefix, kSuffix, kContains, kRegex };
  Kind kind_ = Kind::kExact;
  std::string pattern_;  // lowercased when ignore_case_
  bool ignore_case_ = false;
  std::shared_ptr<const re2::RE2> regex_;
};

class ValueMatch {
 public:
  static absl::StatusOr<ValueMatch> Compile(const envoy::type::matcher::v3::ValueMatcher& m, const std::string& where);
  // `v` is null when the path does not exist.
  bool Matches(const google::protobuf::Value* v) const;

 private:
  enum class Kind { kNull, kDoubleExact, kDoubleRange, kString, kBool, kPresent, kListOneOf, kOr };
  Kind kind_ = Kind::kNull;
  double a_ = 0, b_ = 0;  // exact; or range start, end
  bool flag_ = false;     // bool_match, present_match
  std::vector<StringMatch> string_;  // one, for kString
  std::vector<ValueMatch> inner_;    // one_of (one) or or_match (several)
};

class NodeMatchers {
 public:
  static absl::StatusOr<NodeMatchers> Compile(
      const google::protobuf::RepeatedPtrField<envoy::type::matcher::v3::NodeMatcher>& matchers);
  bool Matches(const std::string& node_id, const google::protobuf::Struct& metadata) const;

 private:
  struct PathMatch {
    std::vector<std::string> path;
    ValueMatch value;
  };
  struct One {
    std::vector<StringMatch> node_id;  // zero or one
    std::vector<PathMatch> metadata;
  };
  std::vector<One> any_;
};

}  // namespace tern::xds
