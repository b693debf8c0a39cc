#include "translate/pgv_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <compare>
#include <regex>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace tern::translate::pgv {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Durations compare as (seconds, nanos); both carry the same sign in a valid Duration.
struct DurationValue {
  int64_t seconds = 0;
  int32_t nanos = 0;
  auto operator<=>(const DurationValue&) const = default;
};

DurationValue Norm(const google::protobuf::Duration& d) { return {d.seconds(), d.nanos()}; }
template <typename N>
N Norm(N n) { return n; }

std::string Fmt(const DurationValue& d) {
  if (d.nanos == 0) return absl::StrCat(d.seconds, "s");
  std::string frac = absl::StrCat(std::abs(d.nanos) + 1000000000);  // "1xxxxxxxxx" keeps leading zeros
  frac = frac.substr(1);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  const bool negative = d.seconds < 0 || d.nanos < 0;
  return absl::StrCat(negative ? "-" : "", std::abs(d.seconds), ".", frac, "s");
}
template <typename N>
std::string Fmt(N n) { return absl::StrCat(n); }

template <typename List>
std::string FmtList(const List& list) {
  std::vector<std::string> parts;
  for (const auto& x : list) parts.push_back(Fmt(Norm(x)));
  return "[" + absl::StrJoin(parts, ", ") + "]";
}

template <typename List, typename V>
bool Contains(const List& list, const V& v) {
  for (const auto& x : list) {
    if (Norm(x) == v) return true;
  }
  return false;
}

// const / lt / lte / gt / gte / in / not_in, shared by every ordered type. As in
// protoc-gen-validate, a lower bound above the upper bound means "outside the range".
template <typename V, typename R>
void CheckOrdered(const V& v, const R& r, Phrases* out) {
  if (r.has_const_() && !(v == Norm(r.const_()))) out->push_back("must equal " + Fmt(Norm(r.const_())));
  const bool has_lo = r.has_gt() || r.has_gte();
  const bool has_hi = r.has_lt() || r.has_lte();
  const bool lo_ok = !has_lo || (r.has_gt() ? v > Norm(r.gt()) : v >= Norm(r.gte()));
  const bool hi_ok = !has_hi || (r.has_lt() ? v < Norm(r.lt()) : v <= Norm(r.lte()));
  const std::string lo_text = !has_lo ? "" : r.has_gt() ? "greater than " + Fmt(Norm(r.gt()))
                                                        : "greater than or equal to " + Fmt(Norm(r.gte()));
  const std::string hi_text = !has_hi ? "" : r.has_lt() ? "less than " + Fmt(Norm(r.lt()))
                                                        : "less than or equal to " + Fmt(Norm(r.lte()));
  if (has_lo && has_hi) {
    const auto lo = r.has_gt() ? Norm(r.gt()) : Norm(r.gte());
    const auto hi = r.has_lt() ? Norm(r.lt()) : Norm(r.lte());
    if (hi < lo) {
      if (!lo_ok && !hi_ok) out->push_back("must be " + hi_text + " or " + lo_text);
      return;
    }
  }
  if (!lo_ok) out->push_back("must be " + lo_text);
  if (!hi_ok) out->push_back("must be " + hi_text);
  if (r.in_size() > 0 && !Contains(r.in(), v)) out->push_back("must be in " + FmtList(r.in()));
  if (Contains(r.not_in(), v)) out->push_back("must not be in " + FmtList(r.not_in()));
}

size_t RuneCount(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || absl::StrContains("!#$%&'*+-.^_`|~", c);
}

// protoc-gen-validate's known regexes, written out: RFC 7230 tokens when strict; otherwise
// only "no NUL, CR or LF" (which, like the generated code, accepts the empty string).
bool ValidHeaderName(const std::string& s, bool strict) {
  if (!strict) return s.find_first_of(std::string("\0\r\n", 3)) == std::string::npos;
  const size_t start = (!s.empty() && s[0] == ':') ? 1 : 0;
  if (s.size() == start) return false;
  return std::all_of(s.begin() + start, s.end(), IsTchar);
}

bool ValidHeaderValue(const std::string& s, bool strict) {
  if (!strict) return s.find_first_of(std::string("\0\r\n", 3)) == std::string::npos;
  return std::none_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c <= 0x08) || (c >= 0x0A && c <= 0x1F) || c == 0x7F;
  });
}

bool IsIp(const std::string& s, int family) {
  unsigned char buf[16];
  return inet_pton(family, s.c_str(), buf) == 1;
}

bool IsHostname(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s.empty() || s.size() > 253) return false;
  for (const auto label : absl::StrSplit(s, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  return true;
}

void CheckWellKnown(const std::string& v, const validate::StringRules& r, Phrases* out) {
  using R = validate::StringRules;
  switch (r.well_known_case()) {
    case R::kHostname:
      if (r.hostname() && !IsHostname(v)) out->push_back("must be a valid hostname");
      break;
    case R::kIp:
      if (r.ip() && !IsIp(v, AF_INET) && !IsIp(v, AF_INET6)) out->push_back("must be a valid IP address");
      break;
    case R::kIpv4:
      if (r.ipv4() && !IsIp(v, AF_INET)) out->push_back("must be a valid IPv4 address");
      break;
    case R::kIpv6:
      if (r.ipv6() && !IsIp(v, AF_INET6)) out->push_back("must be a valid IPv6 address");
      break;
    case R::kAddress:
      if (r.address() && !IsHostname(v) && !IsIp(v, AF_INET) && !IsIp(v, AF_INET6)) {
        out->push_back("must be a valid hostname or IP address");
      }
      break;
    case R::kWellKnownRegex:
      if (r.well_known_regex() == validate::HTTP_HEADER_NAME && !ValidHeaderName(v, r.strict())) {
        out->push_back("must be a valid HTTP header name");
      } else if (r.well_known_regex() == validate::HTTP_HEADER_VALUE && !ValidHeaderValue(v, r.strict())) {
        out->push_back("must be a valid HTTP header value");
      }
      break;
    default:  // email, uri, uri_ref, uuid: not used by the Envoy fields tern sets
      break;
  }
}

void CheckBytes(const std::string& v, const validate::BytesRules& r, Phrases* out) {
  if (r.has_const_() && v != r.const_()) out->push_back("must equal the given bytes");
  if (r.has_len() && v.size() != r.len()) out->push_back(absl::StrCat("must be exactly ", r.len(), " bytes"));
  if (r.has_min_len() && v.size() < r.min_len()) out->push_back(absl::StrCat("must be at least ", r.min_len(), " bytes"));
  if (r.has_max_len() && v.size() > r.max_len()) out->push_back(absl::StrCat("must be at most ", r.max_len(), " bytes"));
  if (r.has_prefix() && !absl::StartsWith(v, r.prefix())) out->push_back("must have the required prefix");
  if (r.has_suffix() && !absl::EndsWith(v, r.suffix())) out->push_back("must have the required suffix");
  if (r.has_contains() && !absl::StrContains(v, r.contains())) out->push_back("must contain the required bytes");
}

void CheckEnum(int v, const FieldDescriptor* f, const validate::EnumRules& r, Phrases* out) {
  if (r.has_const_() && v != r.const_()) out->push_back(absl::StrCat("must equal ", r.const_()));
  if (r.defined_only() && f->enum_type()->FindValueByNumber(v) == nullptr) {
    out->push_back(absl::StrCat("must be a defined ", f->enum_type()->name(), " value (got ", v, ")"));
  }
  if (r.in_size() > 0 && !Contains(r.in(), v)) out->push_back("must be in " + FmtList(r.in()));
  if (Contains(r.not_in(), v)) out->push_back("must not be in " + FmtList(r.not_in()));
}

}  // namespace

void CheckString(const std::string& v, const validate::StringRules& r, Phrases* out) {
  const size_t runes = RuneCount(v);
  if (r.has_const_() && v != r.const_()) out->push_back("must equal \"" + r.const_() + "\"");
  if (r.has_len() && runes != r.len()) out->push_back(absl::StrCat("must be exactly ", r.len(), " characters"));
  if (r.has_min_len() && runes < r.min_len()) {
    out->push_back(absl::StrCat("must be at least ", r.min_len(), " characters"));
  }
  if (r.has_max_len() && runes > r.max_len()) {
    out->push_back(absl::StrCat("must be at most ", r.max_len(), " characters"));
  }
  if (r.has_len_bytes() && v.size() != r.len_bytes()) {
    out->push_back(absl::StrCat("must be exactly ", r.len_bytes(), " bytes"));
  }
  if (r.has_min_bytes() && v.size() < r.min_bytes()) {
    out->push_back(absl::StrCat("must be at least ", r.min_bytes(), " bytes"));
  }
  if (r.has_max_bytes() && v.size() > r.max_bytes()) {
    out->push_back(absl::StrCat("must be at most ", r.max_bytes(), " bytes"));
  }
  if (r.has_pattern()) {
    // Envoy's patterns are RE2; the few in the API are also valid ECMAScript. One that is not
    // is skipped rather than reported against the resource.
    try {
      if (!std::regex_search(v, std::regex(r.pattern()))) out->push_back("must match pattern " + r.pattern());
    } catch (const std::regex_error&) {
    }
  }
  if (r.has_prefix() && !absl::StartsWith(v, r.prefix())) out->push_back("must start with \"" + r.prefix() + "\"");
  if (r.has_suffix() && !absl::EndsWith(v, r.suffix())) out->push_back("must end with \"" + r.suffix() + "\"");
  if (r.has_contains() && !absl::StrContains(v, r.contains())) {
    out->push_back("must contain \"" + r.contains() + "\"");
  }
  if (r.has_not_contains() && absl::StrContains(v, r.not_contains())) {
    out->push_back("must not contain \"" + r.not_contains() + "\"");
  }
  if (r.in_size() > 0 && std::find(r.in().begin(), r.in().end(), v) == r.in().end()) {
    out->push_back("must be one of [" + absl::StrJoin(r.in(), ", ") + "]");
  }
  if (std::find(r.not_in().begin(), r.not_in().end(), v) != r.not_in().end()) {
    out->push_back("must not be one of [" + absl::StrJoin(r.not_in(), ", ") + "]");
  }
  CheckWellKnown(v, r, out);
}

void CheckDuration(const google::protobuf::Duration& d, const validate::DurationRules& r, Phrases* out) {
  CheckOrdered(Norm(d), r, out);
}

void CheckScalar(const Message& m, const FieldDescriptor* f, int index, const validate::FieldRules& rules,
                 Phrases* out) {
  const auto* refl = m.GetReflection();
  const bool rep = index >= 0;
  using R = validate::FieldRules;
  using C = FieldDescriptor;
  switch (f->cpp_type()) {
    case C::CPPTYPE_INT32: {
      const int32_t v = rep ? refl->GetRepeatedInt32(m, f, index) : refl->GetInt32(m, f);
      if (rules.type_case() == R::kInt32) CheckOrdered(v, rules.int32(), out);
      if (rules.type_case() == R::kSint32) CheckOrdered(v, rules.sint32(), out);
      if (rules.type_case() == R::kSfixed32) CheckOrdered(v, rules.sfixed32(), out);
      break;
    }
    case C::CPPTYPE_INT64: {
      const int64_t v = rep ? refl->GetRepeatedInt64(m, f, index) : refl->GetInt64(m, f);
      if (rules.type_case() == R::kInt64) CheckOrdered(v, rules.int64(), out);
      if (rules.type_case() == R::kSint64) CheckOrdered(v, rules.sint64(), out);
      if (rules.type_case() == R::kSfixed64) CheckOrdered(v, rules.sfixed64(), out);
      break;
    }
    case C::CPPTYPE_UINT32: {
      const uint32_t v = rep ? refl->GetRepeatedUInt32(m, f, index) : refl->GetUInt32(m, f);
      if (rules.type_case() == R::kUint32) CheckOrdered(v, rules.uint32(), out);
      if (rules.type_case() == R::kFixed32) CheckOrdered(v, rules.fixed32(), out);
      break;
    }
    case C::CPPTYPE_UINT64: {
      const uint64_t v = rep ? refl->GetRepeatedUInt64(m, f, index) : refl->GetUInt64(m, f);
      if (rules.type_case() == R::kUint64) CheckOrdered(v, rules.uint64(), out);
      if (rules.type_case() == R::kFixed64) CheckOrdered(v, rules.fixed64(), out);
      break;
    }
    case C::CPPTYPE_DOUBLE: {
      const double v = rep ? refl->GetRepeatedDouble(m, f, index) : refl->GetDouble(m, f);
      if (rules.type_case() == R::kDouble) CheckOrdered(v, rules.double_(), out);
      break;
    }
    case C::CPPTYPE_FLOAT: {
      const float v = rep ? refl->GetRepeatedFloat(m, f, index) : refl->GetFloat(m, f);
      if (rules.type_case() == R::kFloat) CheckOrdered(v, rules.float_(), out);
      break;
    }
    case C::CPPTYPE_BOOL: {
      const bool v = rep ? refl->GetRepeatedBool(m, f, index) : refl->GetBool(m, f);
      if (rules.type_case() == R::kBool && rules.bool_().has_const_() && v != rules.bool_().const_()) {
        out->push_back(rules.bool_().const_() ? "must be true" : "must be false");
      }
      break;
    }
    case C::CPPTYPE_ENUM: {
      const int v = rep ? refl->GetRepeatedEnumValue(m, f, index) : refl->GetEnumValue(m, f);
      if (rules.type_case() == R::kEnum) CheckEnum(v, f, rules.enum_(), out);
      break;
    }
    case C::CPPTYPE_STRING: {
      const std::string v = rep ? refl->GetRepeatedString(m, f, index) : refl->GetString(m, f);
      if (rules.type_case() == R::kString) CheckString(v, rules.string(), out);
      if (rules.type_case() == R::kBytes) CheckBytes(v, rules.bytes(), out);
      break;
    }
    case C::CPPTYPE_MESSAGE:
      break;
  }
}

bool ScalarIsEmpty(const Message& m, const FieldDescriptor* f, int index) {
  const auto* refl = m.GetReflection();
  const bool rep = index >= 0;
  using C = FieldDescriptor;
  switch (f->cpp_type()) {
    case C::CPPTYPE_INT32: return (rep ? refl->GetRepeatedInt32(m, f, index) : refl->GetInt32(m, f)) == 0;
    case C::CPPTYPE_INT64: return (rep ? refl->GetRepeatedInt64(m, f, index) : refl->GetInt64(m, f)) == 0;
    case C::CPPTYPE_UINT32: return (rep ? refl->GetRepeatedUInt32(m, f, index) : refl->GetUInt32(m, f)) == 0;
    case C::CPPTYPE_UINT64: return (rep ? refl->GetRepeatedUInt64(m, f, index) : refl->GetUInt64(m, f)) == 0;
    case C::CPPTYPE_DOUBLE: return (rep ? refl->GetRepeatedDouble(m, f, index) : refl->GetDouble(m, f)) == 0;
    case C::CPPTYPE_FLOAT: return (rep ? refl->GetRepeatedFloat(m, f, index) : refl->GetFloat(m, f)) == 0;
    case C::CPPTYPE_BOOL: return !(rep ? refl->GetRepeatedBool(m, f, index) : refl->GetBool(m, f));
    case C::CPPTYPE_ENUM: return (rep ? refl->GetRepeatedEnumValue(m, f, index) : refl->GetEnumValue(m, f)) == 0;
    case C::CPPTYPE_STRING: return (rep ? refl->GetRepeatedString(m, f, index) : refl->GetString(m, f)).empty();
    case C::CPPTYPE_MESSAGE: return false;
  }
  return false;
}

std::string ScalarKey(const Message& m, const FieldDescriptor* f, int index) {
  const auto* refl = m.GetReflection();
  const bool rep = index >= 0;
  using C = FieldDescriptor;
  switch (f->cpp_type()) {
    case C::CPPTYPE_INT32: return absl::StrCat(rep ? refl->GetRepeatedInt32(m, f, index) : refl->GetInt32(m, f));
    case C::CPPTYPE_INT64: return absl::StrCat(rep ? refl->GetRepeatedInt64(m, f, index) : refl->GetInt64(m, f));
    case C::CPPTYPE_UINT32: return absl::StrCat(rep ? refl->GetRepeatedUInt32(m, f, index) : refl->GetUInt32(m, f));
    case C::CPPTYPE_UINT64: return absl::StrCat(rep ? refl->GetRepeatedUInt64(m, f, index) : refl->GetUInt64(m, f));
    case C::CPPTYPE_DOUBLE: return absl::StrCat(rep ? refl->GetRepeatedDouble(m, f, index) : refl->GetDouble(m, f));
    case C::CPPTYPE_FLOAT: return absl::StrCat(rep ? refl->GetRepeatedFloat(m, f, index) : refl->GetFloat(m, f));
    case C::CPPTYPE_BOOL: return (rep ? refl->GetRepeatedBool(m, f, index) : refl->GetBool(m, f)) ? "true" : "false";
    case C::CPPTYPE_ENUM:
      return absl::StrCat(rep ? refl->GetRepeatedEnumValue(m, f, index) : refl->GetEnumValue(m, f));
    case C::CPPTYPE_STRING: return rep ? refl->GetRepeatedString(m, f, index) : refl->GetString(m, f);
    case C::CPPTYPE_MESSAGE: return "";
  }
  return "";
}

}  // namespace tern::translate::pgv
