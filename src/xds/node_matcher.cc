#include "xds/node_matcher.h"

#include <re2/re2.h>

#include "envoy/type/matcher/v3/node.pb.h"
#include "google/protobuf/struct.pb.h"

namespace tern::xds {

namespace matcher = envoy::type::matcher::v3;

namespace {
// Bounds what one CSDS request can make the server compile: RE2 refuses a pattern whose program
// needs more, which ends that request with INVALID_ARGUMENT instead of growing the process.
constexpr int64_t kRegexMaxMem = 1 << 20;

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(where + ": " + what);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
}  // namespace

absl::StatusOr<StringMatch> StringMatch::Compile(const matcher::StringMatcher& m, const std::string& where) {
  StringMatch out;
  out.ignore_case_ = m.ignore_case();
  auto nonempty = [&](const std::string& field, const std::string& v) -> absl::Status {
    if (v.empty()) return Bad(where + "." + field, "must not be empty");
    return absl::OkStatus();
  };
  switch (m.match_pattern_case()) {
    case matcher::StringMatcher::kExact:
      out.kind_ = Kind::kExact;
      out.pattern_ = m.exact();
      break;
    case matcher::StringMatcher::kPrefix:
      if (auto st = nonempty("prefix", m.prefix()); !st.ok()) return st;
      out.kind_ = Kind::kPrefix;
      out.pattern_ = m.prefix();
      break;
    case matcher::StringMatcher::kSuffix:
      if (auto st = nonempty("suffix", m.suffix()); !st.ok()) return st;
      out.kind_ = Kind::kSuffix;
      out.pattern_ = m.suffix();
      break;
    case matcher::StringMatcher::kContains:
      if (auto st = nonempty("contains", m.contains()); !st.ok()) return st;
      out.kind_ = Kind::kContains;
      out.pattern_ = m.contains();
      break;
    case matcher::StringMatcher::kSafeRegex: {
      const std::string& re = m.safe_regex().regex();
      if (auto st = nonempty("safe_regex.regex", re); !st.ok()) return st;
      RE2::Options opts;
      opts.set_log_errors(false);
      opts.set_max_mem(kRegexMaxMem);
      auto compiled = std::make_shared<const RE2>(re, opts);
      if (!compiled->ok()) {
        return Bad(where + ".safe_regex.regex", "invalid regular expression '" + re + "': " + compiled->error());
      }
      out.kind_ = Kind::kRegex;
      out.regex_ = std::move(compiled);
      out.ignore_case_ = false;  // Envoy: ignore_case has no effect on safe_regex
      return out;
    }
    case matcher::StringMatcher::kCustom:
      return Bad(where + ".custom", "custom string matchers ('" + m.custom().name() + "') are not supported");
    default:
      return Bad(where, "no match_pattern set (exact, prefix, suffix, contains or safe_regex)");
  }
  if (out.ignore_case_) out.pattern_ = Lower(out.pattern_);
  return out;
}

bool StringMatch::Matches(std::string_view s) const {
  if (kind_ == Kind::kRegex) return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *regex_);
  std::string lowered;
  if (ignore_case_) {
    lowered = Lower(s);
    s = lowered;
  }
  switch (kind_) {
    case Kind::kExact: return s == pattern_;
    case Kind::kPrefix: return s.starts_with(pattern_);
    case Kind::kSuffix: return s.ends_with(pattern_);
    case Kind::kContains: return s.find(pattern_) != std::string_view::npos;
    case Kind::kRegex: break;
  }
  return false;
}

absl::StatusOr<ValueMatch> ValueMatch::Compile(const matcher::ValueMatcher& m, const std::string& where) {
  ValueMatch out;
  switch (m.match_pattern_case()) {
    case matcher::ValueMatcher::kNullMatch:
      out.kind_ = Kind::kNull;
      return out;
    case matcher::ValueMatcher::kDoubleMatch: {
      const auto& d = m.double_match();
      if (d.match_pattern_case() == matcher::DoubleMatcher::kExact) {
        out.kind_ = Kind::kDoubleExact;
        out.a_ = d.exact();
      } else if (d.match_pattern_case() == matcher::DoubleMatcher::kRange) {
        out.kind_ = Kind::kDoubleRange;
        out.a_ = d.range().start();
        out.b_ = d.range().end();
      } else {
        return Bad(where + ".double_match", "no match_pattern set (exact or range)");
      }
      return out;
    }
    case matcher::ValueMatcher::kStringMatch: {
      auto s = StringMatch::Compile(m.string_match(), where + ".string_match");
      if (!s.ok()) return s.status();
      out.kind_ = Kind::kString;
      out.string_.push_back(std::move(*s));
      return out;
    }
    case matcher::ValueMatcher::kBoolMatch:
      out.kind_ = Kind::kBool;
      out.flag_ = m.bool_match();
      return out;
    case matcher::ValueMatcher::kPresentMatch:
      out.kind_ = Kind::kPresent;
      out.flag_ = m.present_match();
      return out;
    case matcher::ValueMatcher::kListMatch: {
      if (!m.list_match().has_one_of()) return Bad(where + ".list_match", "no match_pattern set (one_of)");
      auto inner = Compile(m.list_match().one_of(), where + ".list_match.one_of");
      if (!inner.ok()) return inner.status();
      out.kind_ = Kind::kListOneOf;
      out.inner_.push_back(std::move(*inner));
      return out;
    }
    case matcher::ValueMatcher::kOrMatch: {
      const auto& alts = m.or_match().value_matchers();
      if (alts.size() < 2) return Bad(where + ".or_match.value_matchers", "needs at least 2 matchers");
      out.kind_ = Kind::kOr;
      for (int i = 0; i < alts.size(); ++i) {
        auto inner = Compile(alts[i], where + ".or_match.value_matchers[" + std::to_string(i) + "]");
        if (!inner.ok()) return inner.status();
        out.inner_.push_back(std::move(*inner));
      }
      return out;
    }
    default:
      return Bad(where, "no match_pattern set");
  }
}

bool ValueMatch::Matches(const google::protobuf::Value* v) const {
  using google::protobuf::Value;
  if (kind_ == Kind::kPresent) return (v != nullptr) == flag_;
  if (!v) return false;
  switch (kind_) {
    case Kind::kNull: return v->kind_case() == Value::kNullValue;
    case Kind::kDoubleExact: return v->kind_case() == Value::kNumberValue && v->number_value() == a_;
    case Kind::kDoubleRange:
      return v->kind_case() == Value::kNumberValue && v->number_value() >= a_ && v->number_value() < b_;
    case Kind::kString: return v->kind_case() == Value::kStringValue && string_[0].Matches(v->string_value());
    case Kind::kBool: return v->kind_case() == Value::kBoolValue && v->bool_value() == flag_;
    case Kind::kListOneOf:
      if (v->kind_case() != Value::kListValue) return false;
      for (const auto& e : v->list_value().values()) {
        if (inner_[0].Matches(&e)) return true;
      }
      return false;
    case Kind::kOr:
      for (const auto& m : inner_) {
        if (m.Matches(v)) return true;
      }
      return false;
    case Kind::kPresent: break;
  }
  return false;
}

absl::StatusOr<NodeMatchers> NodeMatchers::Compile(
    const google::protobuf::RepeatedPtrField<matcher::NodeMatcher>& matchers) {
  NodeMatchers out;
  for (int i = 0; i < matchers.size(); ++i) {
    const auto& m = matchers[i];
    const std::string where = "node_matchers[" + std::to_string(i) + "]";
    One one;
    if (m.has_node_id()) {
      auto s = StringMatch::Compile(m.node_id(), where + ".node_id");
      if (!s.ok()) return s.status();
      one.node_id.push_back(std::move(*s));
    }
    for (int j = 0; j < m.node_metadatas_size(); ++j) {
      const auto& sm = m.node_metadatas(j);
      const std::string at = where + ".node_metadatas[" + std::to_string(j) + "]";
      if (sm.path_size() == 0) return Bad(at + ".path", "needs at least one segment");
      PathMatch pm;
      for (int k = 0; k < sm.path_size(); ++k) {
        if (sm.path(k).key().empty()) return Bad(at + ".path[" + std::to_string(k) + "].key", "must not be empty");
        pm.path.push_back(sm.path(k).key());
      }
      if (!sm.has_value()) return Bad(at + ".value", "is required");
      auto v = ValueMatch::Compile(sm.value(), at + ".value");
      if (!v.ok()) return v.status();
      pm.value = std::move(*v);
      one.metadata.push_back(std::move(pm));
    }
    out.any_.push_back(std::move(one));
  }
  return out;
}

bool NodeMatchers::Matches(const std::string& node_id, const google::protobuf::Struct& metadata) const {
  if (any_.empty()) return true;
  for (const auto& one : any_) {
    if (!one.node_id.empty() && !one.node_id[0].Matches(node_id)) continue;
    bool all = true;
    for (const auto& pm : one.metadata) {
      const google::protobuf::Struct* at = &metadata;
      const google::protobuf::Value* v = nullptr;
      for (size_t k = 0; k < pm.path.size(); ++k) {
        auto it = at->fields().find(pm.path[k]);
        if (it == at->fields().end()) {
          v = nullptr;
          break;
        }
        v = &it->second;
        if (k + 1 < pm.path.size()) {
          if (v->kind_case() != google::protobuf::Value::kStructValue) {
            v = nullptr;
            break;
          }
          at = &v->struct_value();
        }
      }
      if (!pm.value.Matches(v)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

}  // namespace tern::xds
