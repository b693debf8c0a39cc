#include "sources/consul/decoders.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>
#include <simdjson.h>

namespace tern::sources::consul {
namespace {

using json = nlohmann::json;

absl::Status Bad(const std::string& where, const std::string& path, const std::string& msg) {
  return absl::InvalidArgumentError(where + ": " + (path.empty() ? "" : path + ": ") + msg);
}

absl::StatusOr<json> Parse(const std::string& text, const std::string& endpoint) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(endpoint, "", "malformed JSON");
  return j;
}

std::string Join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// A field that is absent or null keeps the default: newer and older Consul versions differ in
// which fields they send, and Go encodes empty slices and maps as null.
const json* Field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// Go's strconv.ParseBool, as mapstructure's weak decoding uses it ("" is false).
std::optional<bool> GoBool(const std::string& s) {
  if (s.empty() || s == "0" || s == "f" || s == "F" || s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "True" || s == "TRUE") return true;
  return std::nullopt;
}

// Go's strconv.ParseUint(s, 0, 64) for the forms it shares with C: decimal, "0x" hexadecimal,
// a leading "0" octal ("" is 0, as mapstructure makes it).
std::optional<uint64_t> GoUint(const std::string& s) {
  if (s.empty()) return 0;
  if (s[0] < '0' || s[0] > '9') return std::nullopt;  // no sign, no space
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (errno != 0 || !end || *end != '\0') return std::nullopt;
  return v;
}

// Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest fixed-point text that reads back as f.
std::string GoFloatText(double f) {
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::string();
}

// Each getter checks the type and says where a wrong one was.
//
// `weak`: the config-entry lists (/v1/config/<kind>), which Consul's Go client decodes with
// mapstructure's WeaklyTypedInput (api.DecodeConfigEntry): a number or bool where a string is
// expected becomes its text, a numeric string where a number is expected is read as the number,
// "true"/"1"/"false"/"0"/... or a number where a bool is expected, one value where a list is
// expected is a list of one, and an empty list where a map is expected is an empty map. The other
// answers (catalog, health, discovery chain) are decoded strictly, as Go's encoding/json does.
// Unlike Go, a fraction where a whole number is expected is refused rather than truncated.
struct Reader {
  std::string where;  // endpoint or entry
  absl::Status status = absl::OkStatus();
  bool weak = false;

  bool Fail(const std::string& path, const std::string& msg) {
    if (status.ok()) status = Bad(where, path, msg);
    return false;
  }
  bool Object(const json& obj, const std::string& path) {
    return obj.is_object() || Fail(path, "expected an object");
  }
  bool Array(const json& obj, const std::string& path) {
    return obj.is_array() || Fail(path, "expected a list");
  }
  bool StringValue(const json& v, const std::string& path, std::string* out) {
    if (v.is_string()) {
      *out = v.get<std::string>();
      return true;
    }
    if (weak && v.is_boolean()) {
      *out = v.get<bool>() ? "1" : "0";
      return true;
    }
    if (weak && v.is_number_unsigned()) {
      *out = std::to_string(v.get<uint64_t>());
      return true;
    }
    if (weak && v.is_number_integer()) {
      *out = std::to_string(v.get<int64_t>());
      return true;
    }
    if (weak && v.is_number_float()) {
      *out = GoFloatText(v.get<double>());
      return true;
    }
    return Fail(path, "expected a string");
  }
  bool UintValue(const json& v, const std::string& path, uint64_t max, uint64_t* out) {
    const char* expected = "expected a non-negative integer";
    if (v.is_number_unsigned()) {
      *out = v.get<uint64_t>();
    } else if (v.is_number_integer()) {
      if (v.get<int64_t>() < 0) return Fail(path, expected);
      *out = static_cast<uint64_t>(v.get<int64_t>());
    } else if (weak && v.is_number_float()) {
      const double d = v.get<double>();
      if (!(d >= 0 && d <= static_cast<double>(max) && d == std::floor(d))) return Fail(path, expected);
      *out = static_cast<uint64_t>(d);
    } else if (weak && v.is_boolean()) {
      *out = v.get<bool>() ? 1 : 0;
    } else if (weak && v.is_string()) {
      auto u = GoUint(v.get<std::string>());
      if (!u) return Fail(path, expected + std::string(" (a number, or a string holding one)"));
      *out = *u;
    } else {
      return Fail(path, expected);
    }
    if (*out > max) return Fail(path, expected + std::string(" up to ") + std::to_string(max));
    return true;
  }
  bool String(const json& obj, const char* key, const std::string& path, std::string* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    return StringValue(*v, Join(path, key), out);
  }
  bool Uint(const json& obj, const char* key, const std::string& path, uint32_t* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    uint64_t u = 0;
    if (!UintValue(*v, Join(path, key), 0xffffffffULL, &u)) return false;
    *out = static_cast<uint32_t>(u);
    return true;
  }
  bool Number(const json& obj, const char* key, const std::string& path, double* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (v->is_number()) {
      *out = v->get<double>();
      return true;
    }
    if (weak && v->is_boolean()) {
      *out = v->get<bool>() ? 1 : 0;
      return true;
    }
    if (weak && v->is_string()) {
      const std::string& s = v->get_ref<const std::string&>();
      if (s.empty()) {
        *out = 0;
        return true;
      }
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(d) && !std::isspace(static_cast<unsigned char>(s[0]))) {
        *out = d;
        return true;
      }
    }
    return Fail(Join(path, key), "expected a number");
  }
  bool Bool(const json& obj, const char* key, const std::string& path, bool* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (v->is_boolean()) {
      *out = v->get<bool>();
      return true;
    }
    if (weak && v->is_number()) {
      *out = v->get<double>() != 0;
      return true;
    }
    if (weak && v->is_string()) {
      if (auto b = GoBool(v->get<std::string>())) {
        *out = *b;
        return true;
      }
    }
    return Fail(Join(path, key), "expected true or false");
  }
  bool Strings(const json& obj, const char* key, const std::string& path, std::vector<std::string>* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    const std::string p = Join(path, key);
    if (weak && v->is_object() && v->empty()) return true;
    if (weak && !v->is_array() && !v->is_object()) {
      std::string one;
      if (!StringValue(*v, p, &one)) return false;
      out->push_back(std::move(one));
      return true;
    }
    if (!v->is_array()) return Fail(p, "expected a list of strings");
    for (size_t i = 0; i < v->size(); ++i) {
      std::string s;
      if (!StringValue((*v)[i], Index(p, i), &s)) return false;
      out->push_back(std::move(s));
    }
    return true;
  }
  bool StringMap(const json& obj, const char* key, const std::string& path, std::map<std::string, std::string>* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    const std::string p = Join(path, key);
    auto read = [&](const json& m) {
      for (auto it = m.begin(); it != m.end(); ++it) {
        std::string s;
        if (!StringValue(it.value(), Join(p, it.key()), &s)) return false;
        (*out)[it.key()] = std::move(s);
      }
      return true;
    };
    if (v->is_object()) return read(*v);
    if (weak && v->is_array()) {  // mapstructure: an empty list, or a list of maps merged in order
      for (size_t i = 0; i < v->size(); ++i) {
        if (!(*v)[i].is_object()) return Fail(Index(p, i), "expected a map of strings");
        if (!read((*v)[i])) return false;
      }
      return true;
    }
    return Fail(p, "expected a map of strings");
  }
  // Consul's HTTPHeaderModifiers: {"Add": {name: value}, "Set": {...}, "Remove": [name]}.
  bool Headers(const json& obj, const char* key, const std::string& path, model::HeaderRules* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    const std::string hp = Join(path, key);
    if (!Object(*v, hp) || !StringMap(*v, "Add", hp, &out->add) || !StringMap(*v, "Set", hp, &out->set) ||
        !Strings(*v, "Remove", hp, &out->remove))
      return false;
    for (const char* kind : {"Add", "Set"}) {
      for (const auto& [name, value] : std::string(kind) == "Add" ? out->add : out->set) {
        std::string problem = model::HeaderNameProblem(name);
        if (problem.empty()) problem = model::HeaderValueProblem(value);
        if (!problem.empty()) return Fail(Join(Join(hp, kind), name), problem);
      }
    }
    for (size_t i = 0; i < out->remove.size(); ++i) {
      if (std::string problem = model::HeaderNameProblem(out->remove[i]); !problem.empty())
        return Fail(Index(Join(hp, "Remove"), i), problem);
    }
    return true;
  }
  bool Duration(const json& obj, const char* key, const std::string& path,
                std::optional<std::chrono::milliseconds>* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    std::optional<std::chrono::milliseconds> d;
    if (v->is_number()) {
      d = ParseGoDuration(v->dump());
    } else if (v->is_string()) {
      d = ParseGoDuration(v->get<std::string>());
    }
    if (!d) return Fail(Join(path, key), "expected a duration such as \"5s\"");
    *out = d;
    return true;
  }
};

model::Health WorseOf(model::Health a, model::Health b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

bool IsMaintenanceCheck(const std::string& check_id) {
  return check_id == "_node_maintenance" || check_id.rfind("_service_maintenance:", 0) == 0;
}

model::Health CheckHealth(const std::string& status) {
  if (status == "passing") return model::Health::kPassing;
  if (status == "warning") return model::Health::kWarning;
  return model::Health::kCritical;  // "critical", and anything unknown is not trusted with traffic
}

bool DecodeStringMatches(Reader& r, const json& arr, const std::string& path, bool header,
                         std::vector<model::HeaderMatch>* headers, std::vector<model::QueryMatch>* query) {
  if (!r.Array(arr, path)) return false;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string p = Index(path, i);
    const json& m = arr[i];
    if (!r.Object(m, p)) return false;
    std::string name, exact, prefix, suffix, regex;
    bool present = false, invert = false;
    if (!r.String(m, "Name", p, &name) || !r.Bool(m, "Present", p, &present) || !r.String(m, "Exact", p, &exact) ||
        !r.String(m, "Prefix", p, &prefix) || !r.String(m, "Suffix", p, &suffix) || !r.String(m, "Regex", p, &regex) ||
        !r.Bool(m, "Invert", p, &invert))
      return false;
    if (name.empty()) return r.Fail(Join(p, "Name"), "is required");
    model::StringMatch sm;
    if (present) {
      sm.kind = model::StringMatch::Kind::kPresent;
    } else if (!exact.empty()) {
      sm = {model::StringMatch::Kind::kExact, exact};
    } else if (!prefix.empty()) {
      sm = {model::StringMatch::Kind::kPrefix, prefix};
    } else if (!suffix.empty()) {
      sm = {model::StringMatch::Kind::kSuffix, suffix};
    } else if (!regex.empty()) {
      sm = {model::StringMatch::Kind::kRegex, regex};
    } else {
      // Consul compiles an empty match as "present".
      sm.kind = model::StringMatch::Kind::kPresent;
    }
    sm.invert = invert;
    if (header) headers->push_back({name, sm});
    else query->push_back({name, sm});
  }
  return true;
}

bool DecodeRoute(Reader& r, const json& route, const std::string& p, ChainRoute* out) {
  if (!r.Object(route, p)) return false;
  if (!r.String(route, "NextNode", p, &out->next_node)) return false;
  const json* def = Field(route, "Definition");
  if (!def) return true;
  const std::string dp = Join(p, "Definition");
  if (!r.Object(*def, dp)) return false;
  if (const json* match = Field(*def, "Match")) {
    const std::string mp = Join(dp, "Match");
    if (!r.Object(*match, mp)) return false;
    if (const json* h = Field(*match, "HTTP")) {
      const std::string hp = Join(mp, "HTTP");
      if (!r.Object(*h, hp)) return false;
      std::string exact, prefix, regex;
      bool case_insensitive = false;
      if (!r.String(*h, "PathExact", hp, &exact) || !r.String(*h, "PathPrefix", hp, &prefix) ||
          !r.String(*h, "PathRegex", hp, &regex) || !r.Strings(*h, "Methods", hp, &out->match.methods) ||
          !r.Bool(*h, "CaseInsensitive", hp, &case_insensitive))
        return false;
      // Consul 1.15+: tern's path matches are case-sensitive; refused by name rather than
      // matched differently from what the entry says.
      if (case_insensitive)
        return r.Fail(Join(hp, "CaseInsensitive"), "case-insensitive path matches are not supported by tern");
      if (!exact.empty()) {
        out->match.path_kind = model::RouteMatch::PathKind::kExact;
        out->match.path = exact;
      } else if (!regex.empty()) {
        out->match.path_kind = model::RouteMatch::PathKind::kRegex;
        out->match.path = regex;
      } else if (!prefix.empty()) {
        out->match.path = prefix;
      }
      if (const json* hs = Field(*h, "Header")) {
        if (!DecodeStringMatches(r, *hs, Join(hp, "Header"), true, &out->match.headers, nullptr)) return false;
      }
      if (const json* qs = Field(*h, "QueryParam")) {
        if (!DecodeStringMatches(r, *qs, Join(hp, "QueryParam"), false, nullptr, &out->match.query)) return false;
      }
    }
  }
  if (const json* dest = Field(*def, "Destination")) {
    const std::string dsp = Join(dp, "Destination");
    if (!r.Object(*dest, dsp)) return false;
    std::string rewrite;
    ChainDestination& d = out->destination;
    if (!r.String(*dest, "PrefixRewrite", dsp, &rewrite) || !r.Duration(*dest, "RequestTimeout", dsp, &d.request_timeout) ||
        !r.Uint(*dest, "NumRetries", dsp, &d.num_retries) ||
        !r.Bool(*dest, "RetryOnConnectFailure", dsp, &d.retry_on_connect_failure) ||
        !r.Duration(*dest, "IdleTimeout", dsp, &d.idle_timeout) || !r.Strings(*dest, "RetryOn", dsp, &d.retry_on) ||
        !r.Headers(*dest, "RequestHeaders", dsp, &d.request_headers) ||
        !r.Headers(*dest, "ResponseHeaders", dsp, &d.response_headers))
      return false;
    for (size_t i = 0; i < d.retry_on.size(); ++i) {
      if (!model::IsRetryCondition(d.retry_on[i]))
        return r.Fail(Index(Join(dsp, "RetryOn"), i), "unknown retry condition '" + d.retry_on[i] +
                                                          "' (known: " + model::RetryConditionList() + ")");
    }
    if (!rewrite.empty()) d.prefix_rewrite = rewrite;
    // Consul: 0 means "not set" (Envoy's defaults: 15s request timeout, no route idle timeout).
    if (d.request_timeout && d.request_timeout->count() == 0) d.request_timeout.reset();
    if (d.idle_timeout && d.idle_timeout->count() == 0) d.idle_timeout.reset();
    if (const json* codes = Field(*dest, "RetryOnStatusCodes")) {
      const std::string cp = Join(dsp, "RetryOnStatusCodes");
      if (!r.Array(*codes, cp)) return false;
      for (size_t i = 0; i < codes->size(); ++i) {
        uint64_t c = 0;
        if (!r.UintValue((*codes)[i], Index(cp, i), 0xffffffffULL, &c)) return false;
        if (c < 100 || c > 599) return r.Fail(Index(cp, i), "expected an HTTP status code");
        d.retry_on_status_codes.push_back(static_cast<uint32_t>(c));
      }
    }
  }
  return true;
}

std::optional<model::LbPolicy> LbPolicyFromConsul(const std::string& p) {
  if (p == "round_robin") return model::LbPolicy::kRoundRobin;
  if (p == "least_request") return model::LbPolicy::kLeastRequest;
  if (p == "random") return model::LbPolicy::kRandom;
  if (p == "ring_hash") return model::LbPolicy::kRingHash;
  if (p == "maglev") return model::LbPolicy::kMaglev;
  return std::nullopt;  // "" or a policy added after this version: Envoy's default
}

bool DecodeNode(Reader& r, const json& n, const std::string& p, ChainNode* out) {
  if (!r.Object(n, p)) return false;
  if (!r.String(n, "Type", p, &out->type) || !r.String(n, "Name", p, &out->name)) return false;
  if (const json* routes = Field(n, "Routes")) {
    if (!r.Array(*routes, Join(p, "Routes"))) return false;
    for (size_t i = 0; i < routes->size(); ++i) {
      ChainRoute route;
      if (!DecodeRoute(r, (*routes)[i], Index(Join(p, "Routes"), i), &route)) return false;
      out->routes.push_back(std::move(route));
    }
  }
  if (const json* splits = Field(n, "Splits")) {
    if (!r.Array(*splits, Join(p, "Splits"))) return false;
    for (size_t i = 0; i < splits->size(); ++i) {
      const std::string sp = Index(Join(p, "Splits"), i);
      ChainSplit s;
      if (!r.Object((*splits)[i], sp) || !r.Number((*splits)[i], "Weight", sp, &s.weight) ||
          !r.String((*splits)[i], "NextNode", sp, &s.next_node))
        return false;
      if (s.weight < 0 || s.weight > 100) return r.Fail(Join(sp, "Weight"), "must be between 0 and 100");
      // Consul 1.9+: header rewrites on one split. tern's weighted clusters carry no headers, so
      // a chain that asks for them is refused by name rather than served without them.
      if (const json* def = Field((*splits)[i], "Definition")) {
        const std::string dp = Join(sp, "Definition");
        if (!r.Object(*def, dp)) return false;
        for (const char* key : {"RequestHeaders", "ResponseHeaders"}) {
          model::HeaderRules rules;
          if (!r.Headers(*def, key, dp, &rules)) return false;
          if (!rules.add.empty() || !rules.set.empty() || !rules.remove.empty())
            return r.Fail(Join(dp, key), "header rewrites on a split are not supported by tern (set them on the "
                                         "service-router route or the ingress-gateway service instead)");
        }
      }
      out->splits.push_back(std::move(s));
    }
  }
  if (const json* res = Field(n, "Resolver")) {
    const std::string rp = Join(p, "Resolver");
    if (!r.Object(*res, rp) || !r.String(*res, "Target", rp, &out->target) ||
        !r.Duration(*res, "ConnectTimeout", rp, &out->connect_timeout) ||
        !r.Duration(*res, "RequestTimeout", rp, &out->request_timeout))
      return false;
    if (out->request_timeout && out->request_timeout->count() == 0) out->request_timeout.reset();
    if (const json* fo = Field(*res, "Failover")) {
      if (!r.Object(*fo, Join(rp, "Failover")) || !r.Strings(*fo, "Targets", Join(rp, "Failover"), &out->failover_targets))
        return false;
    }
  }
  if (const json* lb = Field(n, "LoadBalancer")) {
    std::string policy;
    if (!r.Object(*lb, Join(p, "LoadBalancer")) || !r.String(*lb, "Policy", Join(p, "LoadBalancer"), &policy)) return false;
    out->lb_policy = LbPolicyFromConsul(policy);
  }
  if (out->type == "router" && out->routes.empty()) return r.Fail(Join(p, "Routes"), "a router needs routes");
  if (out->type == "splitter" && out->splits.empty()) return r.Fail(Join(p, "Splits"), "a splitter needs splits");
  if (out->type == "resolver" && out->target.empty()) return r.Fail(Join(p, "Resolver.Target"), "is required");
  return true;
}

// Runs `decode` on every entry of a config entry list; a bad entry becomes a problem named
// "<kind>/<name>" and is skipped.
template <typename T, typename F>
absl::StatusOr<std::vector<T>> DecodeEntries(const std::string& kind, const std::string& json_text,
                                             const std::string& endpoint, std::vector<model::Problem>* problems,
                                             F decode) {
  auto root = Parse(json_text, endpoint);
  if (!root.ok()) return root.status();
  if (root->is_null()) return std::vector<T>{};
  if (!root->is_array()) return Bad(endpoint, "", "expected a list of config entries");
  std::vector<T> out;
  for (size_t i = 0; i < root->size(); ++i) {
    const json& e = (*root)[i];
    std::string name;
    if (e.is_object() && e.contains("Name") && e["Name"].is_string()) name = e["Name"].get<std::string>();
    if (name.empty()) {
      problems->push_back({endpoint, Index("", i) + ".Name: a config entry needs a name"});
      continue;
    }
    Reader r{kind + "/" + name};
    r.weak = true;  // as api.DecodeConfigEntry (mapstructure, WeaklyTypedInput)
    T value;
    if (decode(r, e, &value) && r.status.ok()) {
      out.push_back(std::move(value));
    } else {
      problems->push_back({kind + "/" + name, std::string(r.status.message()).substr(r.where.size() + 2), name});
    }
  }
  return out;
}

}  // namespace

// Longer than any timeout means anything (~31,700 years), and far inside int64 milliseconds: a
// larger value (found by fuzz/consul_answers: 1.7e42 ns) is not a duration, and converting it
// would be undefined behaviour.
constexpr double kMaxDurationMs = 1e15;

std::optional<std::chrono::milliseconds> ParseGoDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  // A bare number is nanoseconds (Go's time.Duration encoded as JSON).
  bool numeric = true;
  for (char c : text) numeric = numeric && ((c >= '0' && c <= '9') || c == '-' || c == '.');
  if (numeric) {
    char* end = nullptr;
    double ns = std::strtod(text.c_str(), &end);
    if (!end || *end != '\0' || !(ns >= 0) || ns / 1e6 > kMaxDurationMs) return std::nullopt;
    return std::chrono::milliseconds(static_cast<int64_t>(ns / 1e6));
  }
  double total_ms = 0;
  size_t i = 0;
  if (text == "0") return std::chrono::milliseconds(0);
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    double v = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    size_t ustart = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    std::string unit = text.substr(ustart, i - ustart);
    if (unit == "h") total_ms += v * 3600e3;
    else if (unit == "m") total_ms += v * 60e3;
    else if (unit == "s") total_ms += v * 1e3;
    else if (unit == "ms") total_ms += v;
    else if (unit == "us" || unit == "\xc2\xb5s") total_ms += v / 1e3;
    else if (unit == "ns") total_ms += v / 1e6;
    else return std::nullopt;
  }
  if (!(total_ms <= kMaxDurationMs)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

// The two large answers (the catalog, and every service's health: 100k instances in a large shop)
// are read with simdjson's DOM parser, several times faster than building an nlohmann tree; the
// checks and messages are the same as Reader's.
namespace fast {
namespace sj = simdjson::dom;

// A field that is absent or null: nullopt (the default stays), as Field() above.
std::optional<sj::element> Get(sj::object obj, std::string_view key) {
  sj::element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  return v;
}

struct FastReader {
  std::string where;
  absl::Status status = absl::OkStatus();
  bool Fail(const std::string& path, const std::string& msg) {
    if (status.ok()) status = Bad(where, path, msg);
    return false;
  }
  bool Object(sj::element e, const std::string& path, sj::object* out) {
    return e.get_object().get(*out) == simdjson::SUCCESS || Fail(path, "expected an object");
  }
  bool String(sj::object obj, const char* key, const std::string& path, std::string* out) {
    auto v = Get(obj, key);
    if (!v) return true;
    std::string_view sv;
    if (v->get_string().get(sv) != simdjson::SUCCESS) return Fail(Join(path, key), "expected a string");
    out->assign(sv);
    return true;
  }
  bool Uint(sj::object obj, const char* key, const std::string& path, uint32_t* out) {
    auto v = Get(obj, key);
    if (!v) return true;
    int64_t i = 0;
    uint64_t u = 0;
    if (v->get_int64().get(i) == simdjson::SUCCESS) {
      if (i < 0 || i > 0xffffffffLL) return Fail(Join(path, key), "expected a non-negative integer");
      *out = static_cast<uint32_t>(i);
      return true;
    }
    if (v->get_uint64().get(u) == simdjson::SUCCESS) return Fail(Join(path, key), "expected a non-negative integer");
    return Fail(Join(path, key), "expected a non-negative integer");
  }
  bool Strings(sj::element v, const std::string& path, std::vector<std::string>* out, const char* what) {
    sj::array arr;
    if (v.get_array().get(arr) != simdjson::SUCCESS) return Fail(path, what);
    size_t i = 0;
    for (sj::element x : arr) {
      std::string_view sv;
      if (x.get_string().get(sv) != simdjson::SUCCESS) return Fail(Index(path, i), "expected a string");
      out->emplace_back(sv);
      ++i;
    }
    return true;
  }
  bool Strings(sj::object obj, const char* key, const std::string& path, std::vector<std::string>* out) {
    auto v = Get(obj, key);
    return !v || Strings(*v, Join(path, key), out, "expected a list of strings");
  }
  bool StringMap(sj::object obj, const char* key, const std::string& path, std::map<std::string, std::string>* out) {
    auto v = Get(obj, key);
    if (!v) return true;
    sj::object m;
    if (v->get_object().get(m) != simdjson::SUCCESS) return Fail(Join(path, key), "expected a map of strings");
    for (auto [k, x] : m) {
      std::string_view sv;
      if (x.get_string().get(sv) != simdjson::SUCCESS) return Fail(Join(Join(path, key), std::string(k)), "expected a string");
      (*out)[std::string(k)] = std::string(sv);
    }
    return true;
  }
};

// simdjson needs padding after the text; a parser per thread keeps its buffers between answers.
simdjson::error_code ParseInto(const std::string& text, sj::element* root) {
  thread_local sj::parser parser;
  return parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(*root);
}
}  // namespace fast

absl::StatusOr<ServiceList> DecodeCatalogServices(const std::string& text, const std::string& endpoint) {
  fast::sj::element root;
  if (fast::ParseInto(text, &root) != simdjson::SUCCESS) return Bad(endpoint, "", "malformed JSON");
  fast::sj::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return Bad(endpoint, "", "expected a map of service names to tags");
  ServiceList out;
  fast::FastReader r{endpoint};
  for (auto [key, value] : obj) {
    std::vector<std::string> tags;
    if (!value.is_null() && !r.Strings(value, "", &tags, "expected a list of tags")) {
      return Bad(endpoint, std::string(key), "expected a list of tags");
    }
    out[std::string(key)] = std::move(tags);
  }
  return out;
}

absl::StatusOr<CheckFingerprints> DecodeHealthState(const std::string& text, const std::string& endpoint) {
  fast::sj::element root;
  if (fast::ParseInto(text, &root) != simdjson::SUCCESS) return Bad(endpoint, "", "malformed JSON");
  CheckFingerprints out;
  if (root.is_null()) return out;
  fast::sj::array checks;
  if (root.get_array().get(checks) != simdjson::SUCCESS) return Bad(endpoint, "", "expected a list of checks");
  fast::FastReader r{endpoint};
  size_t i = 0;
  for (fast::sj::element el : checks) {
    const std::string p = Index("", i++);
    fast::sj::object c;
    std::string node, id, status, service_id, service;
    std::vector<std::string> tags;
    if (!r.Object(el, p, &c) || !r.String(c, "Node", p, &node) || !r.String(c, "CheckID", p, &id) ||
        !r.String(c, "Status", p, &status) || !r.String(c, "ServiceID", p, &service_id) ||
        !r.String(c, "ServiceName", p, &service) || !r.Strings(c, "ServiceTags", p, &tags))
      return r.status;
    uint64_t modify = 0;
    if (auto m = fast::Get(c, "ModifyIndex")) {
      if (m->get_uint64().get(modify) != simdjson::SUCCESS) return Bad(endpoint, Join(p, "ModifyIndex"), "expected a non-negative integer");
    }
    // FNV-1a over the fields, then summed per service: the order of checks does not matter.
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](std::string_view part) {
      for (unsigned char ch : part) {
        h ^= ch;
        h *= 1099511628211ULL;
      }
      h ^= 0xff;
      h *= 1099511628211ULL;
    };
    for (const std::string* part : {&node, &id, &status, &service_id}) mix(*part);
    for (const auto& t : tags) mix(t);
    mix(std::to_string(modify));
    if (service.empty()) out.nodes[node] += h;
    else out.services[service] += h;
  }
  return out;
}

absl::StatusOr<std::vector<Instance>> DecodeHealthService(const std::string& text, const std::string& endpoint) {
  fast::sj::element root;
  if (fast::ParseInto(text, &root) != simdjson::SUCCESS) return Bad(endpoint, "", "malformed JSON");
  if (root.is_null()) return std::vector<Instance>{};
  fast::sj::array entries;
  if (root.get_array().get(entries) != simdjson::SUCCESS) return Bad(endpoint, "", "expected a list of service entries");
  fast::FastReader r{endpoint};
  std::vector<Instance> out;
  out.reserve(entries.size());
  size_t i = 0;
  for (fast::sj::element entry : entries) {
    const std::string p = Index("", i++);
    fast::sj::object e;
    if (!r.Object(entry, p, &e)) return r.status;
    Instance inst;
    std::string node_address;
    if (auto node_el = fast::Get(e, "Node")) {
      fast::sj::object node;
      if (!r.Object(*node_el, Join(p, "Node"), &node) || !r.String(node, "Node", Join(p, "Node"), &inst.node) ||
          !r.String(node, "Address", Join(p, "Node"), &node_address))
        return r.status;
    }
    auto svc_el = fast::Get(e, "Service");
    if (!svc_el) return Bad(endpoint, Join(p, "Service"), "is required");
    const std::string sp = Join(p, "Service");
    fast::sj::object svc;
    if (!r.Object(*svc_el, sp, &svc) || !r.String(svc, "ID", sp, &inst.id) || !r.String(svc, "Service", sp, &inst.service) ||
        !r.String(svc, "Address", sp, &inst.address) || !r.Uint(svc, "Port", sp, &inst.port) ||
        !r.Strings(svc, "Tags", sp, &inst.tags) || !r.StringMap(svc, "Meta", sp, &inst.meta))
      return r.status;
    if (inst.port > 65535) return Bad(endpoint, Join(sp, "Port"), "is not a port");
    if (auto w_el = fast::Get(svc, "Weights")) {
      fast::sj::object w;
      if (!r.Object(*w_el, Join(sp, "Weights"), &w) || !r.Uint(w, "Passing", Join(sp, "Weights"), &inst.weight_passing) ||
          !r.Uint(w, "Warning", Join(sp, "Weights"), &inst.weight_warning))
        return r.status;
    }
    if (inst.address.empty()) inst.address = node_address;
    if (auto checks_el = fast::Get(e, "Checks")) {
      fast::sj::array checks;
      if (checks_el->get_array().get(checks) != simdjson::SUCCESS) {
        r.Fail(Join(p, "Checks"), "expected a list");
        return r.status;
      }
      size_t c = 0;
      for (fast::sj::element check_el : checks) {
        const std::string cp = Index(Join(p, "Checks"), c++);
        fast::sj::object check;
        std::string id, status;
        if (!r.Object(check_el, cp, &check) || !r.String(check, "CheckID", cp, &id) || !r.String(check, "Status", cp, &status))
          return r.status;
        inst.health = IsMaintenanceCheck(id) ? model::Health::kMaintenance : WorseOf(inst.health, CheckHealth(status));
        if (IsMaintenanceCheck(id)) inst.health = model::Health::kMaintenance;
      }
    }
    out.push_back(std::move(inst));
  }
  return out;
}

std::optional<model::Endpoint> ToEndpoint(const Instance& in) {
  uint32_t weight = 0;
  if (in.health == model::Health::kPassing) weight = in.weight_passing;
  else if (in.health == model::Health::kWarning) weight = in.weight_warning;
  if (weight == 0 || in.address.empty() || in.port == 0) return std::nullopt;
  model::Endpoint ep;
  ep.id = in.id;
  ep.address = in.address;
  ep.port = in.port;
  ep.weight = weight;
  ep.health = in.health;
  ep.metadata = in.meta;
  ep.tags = in.tags;
  return ep;
}

absl::StatusOr<DiscoveryChain> DecodeDiscoveryChain(const std::string& text, const std::string& endpoint) {
  auto root = Parse(text, endpoint);
  if (!root.ok()) return root.status();
  Reader r{endpoint};
  if (!r.Object(*root, "")) return r.status;
  const json* chain = Field(*root, "Chain");
  if (!chain) return Bad(endpoint, "Chain", "is required");
  if (!r.Object(*chain, "Chain")) return r.status;
  DiscoveryChain out;
  if (!r.String(*chain, "ServiceName", "Chain", &out.service) || !r.String(*chain, "Datacenter", "Chain", &out.datacenter) ||
      !r.String(*chain, "Namespace", "Chain", &out.ns) || !r.String(*chain, "Partition", "Chain", &out.partition) ||
      !r.String(*chain, "Protocol", "Chain", &out.protocol) || !r.String(*chain, "StartNode", "Chain", &out.start_node))
    return r.status;
  if (const json* targets = Field(*chain, "Targets")) {
    if (!r.Object(*targets, "Chain.Targets")) return r.status;
    for (auto it = targets->begin(); it != targets->end(); ++it) {
      const std::string tp = "Chain.Targets." + it.key();
      ChainTarget t;
      if (!r.Object(it.value(), tp) || !r.String(it.value(), "ID", tp, &t.id) ||
          !r.String(it.value(), "Service", tp, &t.service) || !r.String(it.value(), "ServiceSubset", tp, &t.subset) ||
          !r.String(it.value(), "Datacenter", tp, &t.datacenter) || !r.String(it.value(), "Namespace", tp, &t.ns) ||
          !r.String(it.value(), "Partition", tp, &t.partition))
        return r.status;
      if (const json* subset = Field(it.value(), "Subset")) {
        if (!r.Object(*subset, Join(tp, "Subset")) || !r.String(*subset, "Filter", Join(tp, "Subset"), &t.filter) ||
            !r.Bool(*subset, "OnlyPassing", Join(tp, "Subset"), &t.only_passing))
          return r.status;
      }
      if (t.id.empty()) t.id = it.key();
      if (t.service.empty()) return Bad(endpoint, Join(tp, "Service"), "is required");
      // Cluster peering (Consul 1.14+): the target's instances live in a peer cluster, reached
      // through mesh gateways tern does not run. Refused by name rather than routed to the local
      // service of the same name.
      std::string peer;
      if (!r.String(it.value(), "Peer", tp, &peer)) return r.status;
      if (!peer.empty()) {
        return Bad(endpoint, Join(tp, "Peer"),
                   "target '" + t.id + "' is in peer '" + peer + "': peered targets are not supported by tern");
      }
      out.targets[it.key()] = std::move(t);
    }
  }
  if (const json* nodes = Field(*chain, "Nodes")) {
    if (!r.Object(*nodes, "Chain.Nodes")) return r.status;
    for (auto it = nodes->begin(); it != nodes->end(); ++it) {
      ChainNode n;
      if (!DecodeNode(r, it.value(), "Chain.Nodes." + it.key(), &n)) return r.status;
      out.nodes[it.key()] = std::move(n);
    }
  }
  // The chain must be closed, or routes would point nowhere.
  if (out.start_node.empty() || !out.nodes.count(out.start_node))
    return Bad(endpoint, "Chain.StartNode", "names no node in Chain.Nodes");
  for (const auto& [key, n] : out.nodes) {
    const std::string np = "Chain.Nodes." + key;
    for (size_t i = 0; i < n.routes.size(); ++i) {
      if (!out.nodes.count(n.routes[i].next_node))
        return Bad(endpoint, Index(np + ".Routes", i) + ".NextNode", "names no node");
    }
    for (size_t i = 0; i < n.splits.size(); ++i) {
      if (!out.nodes.count(n.splits[i].next_node))
        return Bad(endpoint, Index(np + ".Splits", i) + ".NextNode", "names no node");
    }
    if (n.type == "resolver") {
      if (!out.targets.count(n.target)) return Bad(endpoint, np + ".Resolver.Target", "names no target");
      for (const auto& f : n.failover_targets) {
        if (!out.targets.count(f)) return Bad(endpoint, np + ".Resolver.Failover.Targets", "'" + f + "' names no target");
      }
    }
  }
  return out;
}

// "<rps>" or "<rps>:<burst>", both whole numbers ≥ 1.
bool ParseRate(Reader& r, const std::string& path, const std::string& text, model::RateLimit* out) {
  auto number = [](const std::string& t) -> std::optional<uint32_t> {
    if (t.empty() || t.size() > 9) return std::nullopt;
    uint32_t v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (v == 0) return std::nullopt;
    return v;
  };
  const size_t colon = text.find(':');
  auto rps = number(text.substr(0, colon));
  auto burst = colon == std::string::npos ? rps : number(text.substr(colon + 1));
  if (!rps || !burst) {
    return r.Fail(path, "'" + text + "' is not a rate: expected \"<requests per second>\" or "
                        "\"<requests per second>:<burst>\", whole numbers of at least 1");
  }
  out->tokens_per_fill = *rps;
  out->max_tokens = *burst;
  out->fill_interval = std::chrono::milliseconds(1000);
  out->origin = r.where + " " + path;
  return true;
}

bool DecodeRateLimitMeta(Reader& r, const json& e, IngressRateLimits* out) {
  const json* meta = Field(e, "Meta");
  if (!meta) return true;
  if (!r.Object(*meta, "Meta")) return false;
  const std::string prefix = "tern.rate_limit";
  for (auto it = meta->begin(); it != meta->end(); ++it) {
    const std::string& key = it.key();
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string path = "Meta." + key;
    std::string rate;
    if (!r.StringValue(it.value(), path, &rate)) return false;
    model::RateLimit limit;
    if (!ParseRate(r, path, rate, &limit)) return false;
    const std::string rest = key.substr(prefix.size());
    if (rest.empty()) {
      out->gateway = limit;
    } else if (rest.rfind(".port.", 0) == 0) {
      const std::string port = rest.substr(6);
      uint32_t p = 0;
      for (char c : port) p = (c >= '0' && c <= '9' && p < 100000) ? p * 10 + static_cast<uint32_t>(c - '0') : 100000;
      if (port.empty() || p == 0 || p > 65535) return r.Fail(path, "'" + port + "' is not a port");
      out->ports[p] = limit;
    } else if (rest.rfind(".service.", 0) == 0 && rest.size() > 9) {
      out->services[rest.substr(9)] = limit;
    } else {
      return r.Fail(path, "unknown tern key (tern.rate_limit, tern.rate_limit.port.<port>, "
                          "tern.rate_limit.service.<service>)");
    }
  }
  return true;
}

// Meta "tern.vhds": how the gateway's route tables are served (model::VhdsMode).
bool DecodeVhdsMeta(Reader& r, const json& e, model::VhdsMode* out) {
  const json* meta = Field(e, "Meta");
  if (!meta || !meta->is_object()) return true;  // DecodeRateLimitMeta reports a Meta that is not an object
  auto it = meta->find("tern.vhds");
  if (it == meta->end()) return true;
  const std::string path = "Meta.tern.vhds";
  std::string v;
  if (!r.StringValue(*it, path, &v)) return false;
  if (v == "auto") {
    *out = model::VhdsMode::kAuto;
  } else if (v == "inline") {
    *out = model::VhdsMode::kInline;
  } else if (v == "on_demand") {
    *out = model::VhdsMode::kOnDemand;
  } else {
    return r.Fail(path, "unknown value '" + v + "' (expected one of: auto, inline, on_demand)");
  }
  return true;
}

// PassiveHealthCheck {Interval, MaxFailures, EnforcingConsecutive5xx, MaxEjectionPercent,
// BaseEjectionTime} inside `obj` at `path`. Go encodes an unset Interval, MaxFailures or
// BaseEjectionTime as 0 (or leaves it out): those are unset here, and Envoy's defaults apply.
bool DecodePassiveHealthCheck(Reader& r, const json& obj, const std::string& path,
                              std::optional<PassiveHealthCheck>* out) {
  const json* v = Field(obj, "PassiveHealthCheck");
  if (!v) return true;
  const std::string p = Join(path, "PassiveHealthCheck");
  if (!r.Object(*v, p)) return false;
  PassiveHealthCheck c;
  for (auto [key, d] : {std::pair{"Interval", &c.interval}, std::pair{"BaseEjectionTime", &c.base_ejection_time}}) {
    if (!r.Duration(*v, key, p, d)) return false;  // refuses negative durations
    if (*d && d->value().count() == 0) d->reset();
  }
  struct Count {
    const char* key;
    std::optional<uint32_t>* out;
    bool percent;
  };
  for (const Count& n : {Count{"MaxFailures", &c.max_failures, false},
                         Count{"EnforcingConsecutive5xx", &c.enforcing_consecutive_5xx, true},
                         Count{"MaxEjectionPercent", &c.max_ejection_percent, true}}) {
    if (!Field(*v, n.key)) continue;
    uint32_t x = 0;
    if (!r.Uint(*v, n.key, p, &x)) return false;
    if (n.percent && x > 100) return r.Fail(Join(p, n.key), "expected a percentage from 0 to 100");
    *n.out = x;
  }
  if (c.max_failures == 0u) c.max_failures.reset();
  *out = c;
  return true;
}

// MaxConnections, MaxPendingRequests, MaxConcurrentRequests inside `obj` at `path`.
// `zero_is_unset`: the ingress-gateway fields are plain integers in Consul, where 0 means "not
// set" (Envoy's default); UpstreamConfig Limits are pointers, where 0 is a limit of 0.
bool DecodeLimits(Reader& r, const json& obj, const std::string& path, bool zero_is_unset, UpstreamSettings* out) {
  for (auto [key, o] : {std::pair{"MaxConnections", &out->max_connections},
                        std::pair{"MaxPendingRequests", &out->max_pending_requests},
                        std::pair{"MaxConcurrentRequests", &out->max_concurrent_requests}}) {
    if (!Field(obj, key)) continue;
    uint32_t x = 0;
    if (!r.Uint(obj, key, path, &x)) return false;
    if (x == 0 && zero_is_unset) continue;
    *o = x;
  }
  return true;
}

// One UpstreamConfig element (Defaults, or one of Overrides) at `path`.
bool DecodeUpstreamConfig(Reader& r, const json& obj, const std::string& path, UpstreamSettings* out) {
  if (!r.Object(obj, path)) return false;
  out->origin = r.where + " " + path;
  if (const json* limits = Field(obj, "Limits")) {
    const std::string lp = Join(path, "Limits");
    if (!r.Object(*limits, lp) || !DecodeLimits(r, *limits, lp, /*zero_is_unset=*/false, out)) return false;
  }
  if (!DecodePassiveHealthCheck(r, obj, path, &out->passive_health_check)) return false;
  uint32_t ms = 0;
  if (!r.Uint(obj, "ConnectTimeoutMs", path, &ms)) return false;
  if (ms > 0) out->connect_timeout = std::chrono::milliseconds(ms);
  return true;
}

bool DecodeUpstreamConfigs(Reader& r, const json& e, ServiceDefaults* out) {
  const json* uc = Field(e, "UpstreamConfig");
  if (!uc) return true;
  if (!r.Object(*uc, "UpstreamConfig")) return false;
  if (const json* d = Field(*uc, "Defaults")) {
    if (!DecodeUpstreamConfig(r, *d, "UpstreamConfig.Defaults", &out->upstream_defaults)) return false;
  }
  const json* os = Field(*uc, "Overrides");
  if (!os) return true;
  if (!r.Array(*os, "UpstreamConfig.Overrides")) return false;
  for (size_t i = 0; i < os->size(); ++i) {
    const std::string op = Index("UpstreamConfig.Overrides", i);
    const json& o = (*os)[i];
    UpstreamSettings settings;
    std::string name, peer, ns, partition;
    if (!r.Object(o, op) || !r.String(o, "Name", op, &name) || !r.String(o, "Peer", op, &peer) ||
        !r.String(o, "Namespace", op, &ns) || !r.String(o, "Partition", op, &partition))
      return false;
    if (name.empty()) return r.Fail(Join(op, "Name"), "is required");
    if (!peer.empty())
      return r.Fail(Join(op, "Peer"), "'" + peer + "': upstreams of a cluster peer are not supported by tern");
    if (!ns.empty() && ns != "default")
      return r.Fail(Join(op, "Namespace"), "'" + ns + "': tern reads the default namespace only");
    if (!partition.empty() && partition != "default")
      return r.Fail(Join(op, "Partition"), "'" + partition + "': tern reads the default partition only");
    if (!DecodeUpstreamConfig(r, o, op, &settings)) return false;
    if (!out->upstream_overrides.emplace(name, std::move(settings)).second)
      return r.Fail(Join(op, "Name"), "'" + name + "' is overridden twice");
  }
  return true;
}

absl::StatusOr<std::vector<IngressGateway>> DecodeIngressGateways(const std::string& text, const std::string& endpoint,
                                                                  std::vector<model::Problem>* problems) {
  return DecodeEntries<IngressGateway>(
      "ingress-gateway", text, endpoint, problems, [](Reader& r, const json& e, IngressGateway* out) {
        if (!r.Object(e, "") || !r.String(e, "Name", "", &out->name)) return false;
        // Consul Enterprise: the entry's namespace and partition; tern follows the services of
        // the one namespace and partition its token reads, so an exposed service elsewhere is
        // refused by name rather than served from a same-named service here.
        std::string entry_ns, entry_partition;
        if (!r.String(e, "Namespace", "", &entry_ns) || !r.String(e, "Partition", "", &entry_partition)) return false;
        auto named = [](const std::string& v) { return v.empty() ? std::string("default") : v; };
        if (!DecodeRateLimitMeta(r, e, &out->rate_limits)) return false;
        if (!DecodeVhdsMeta(r, e, &out->vhds)) return false;
        if (const json* tls = Field(e, "TLS")) {
          if (!r.Object(*tls, "TLS") || !r.Bool(*tls, "Enabled", "TLS", &out->tls_enabled)) return false;
        }
        if (const json* d = Field(e, "Defaults")) {
          out->defaults.origin = r.where + " Defaults";
          if (!r.Object(*d, "Defaults") || !DecodeLimits(r, *d, "Defaults", /*zero_is_unset=*/true, &out->defaults) ||
              !DecodePassiveHealthCheck(r, *d, "Defaults", &out->defaults.passive_health_check))
            return false;
        }
        const json* ls = Field(e, "Listeners");
        if (!ls) return true;
        if (!r.Array(*ls, "Listeners")) return false;
        std::set<uint32_t> ports;
        for (size_t i = 0; i < ls->size(); ++i) {
          const std::string lp = Index("Listeners", i);
          const json& l = (*ls)[i];
          IngressListener listener;
          if (!r.Object(l, lp) || !r.Uint(l, "Port", lp, &listener.port) || !r.String(l, "Protocol", lp, &listener.protocol))
            return false;
          if (listener.port == 0 || listener.port > 65535) return r.Fail(Join(lp, "Port"), "is not a port");
          if (!ports.insert(listener.port).second) return r.Fail(Join(lp, "Port"), "is used by two listeners");
          if (listener.protocol != "tcp" && listener.protocol != "http" && listener.protocol != "http2" &&
              listener.protocol != "grpc")
            return r.Fail(Join(lp, "Protocol"), "must be tcp, http, http2 or grpc");
          if (const json* ss = Field(l, "Services")) {
            if (!r.Array(*ss, Join(lp, "Services"))) return false;
            for (size_t s = 0; s < ss->size(); ++s) {
              const std::string svp = Index(Join(lp, "Services"), s);
              IngressService svc;
              if (!r.Object((*ss)[s], svp) || !r.String((*ss)[s], "Name", svp, &svc.name) ||
                  !r.Strings((*ss)[s], "Hosts", svp, &svc.hosts) ||
                  !r.Headers((*ss)[s], "RequestHeaders", svp, &svc.request_headers) ||
                  !r.Headers((*ss)[s], "ResponseHeaders", svp, &svc.response_headers) ||
                  !DecodeLimits(r, (*ss)[s], svp, /*zero_is_unset=*/true, &svc.limits) ||
                  !DecodePassiveHealthCheck(r, (*ss)[s], svp, &svc.limits.passive_health_check))
                return false;
              svc.limits.origin = r.where + " " + svp;
              if (svc.name.empty()) return r.Fail(Join(svp, "Name"), "is required");
              std::string svc_ns, svc_partition;
              if (!r.String((*ss)[s], "Namespace", svp, &svc_ns) || !r.String((*ss)[s], "Partition", svp, &svc_partition))
                return false;
              if (!svc_ns.empty() && named(svc_ns) != named(entry_ns))
                return r.Fail(Join(svp, "Namespace"), "'" + svc_ns + "' is not the gateway's namespace ('" +
                                                         named(entry_ns) + "'): services of another namespace are "
                                                         "not supported by tern");
              if (!svc_partition.empty() && named(svc_partition) != named(entry_partition))
                return r.Fail(Join(svp, "Partition"), "'" + svc_partition + "' is not the gateway's partition ('" +
                                                          named(entry_partition) + "'): services of another partition "
                                                          "are not supported by tern");
              listener.services.push_back(std::move(svc));
            }
          }
          if (listener.protocol == "tcp" && listener.services.size() > 1)
            return r.Fail(Join(lp, "Services"), "a tcp listener exposes exactly one service");
          out->listeners.push_back(std::move(listener));
        }
        return true;
      });
}

absl::StatusOr<std::vector<ServiceDefaults>> DecodeServiceDefaults(const std::string& text, const std::string& endpoint,
                                                                   std::vector<model::Problem>* problems) {
  return DecodeEntries<ServiceDefaults>(
      "service-defaults", text, endpoint, problems, [](Reader& r, const json& e, ServiceDefaults* out) {
        if (!r.Object(e, "") || !r.String(e, "Name", "", &out->name) || !r.String(e, "Protocol", "", &out->protocol))
          return false;
        return DecodeUpstreamConfigs(r, e, out);
      });
}

absl::StatusOr<std::vector<std::string>> DecodeChainEntries(const std::string& kind, const std::string& text,
                                                            const std::string& endpoint,
                                                            std::vector<model::Problem>* problems) {
  return DecodeEntries<std::string>(kind, text, endpoint, problems, [&kind](Reader& r, const json& e, std::string* out) {
    if (!r.Object(e, "") || !r.String(e, "Name", "", out)) return false;
    if (kind == "service-router") {
      if (const json* routes = Field(e, "Routes")) {
        if (!r.Array(*routes, "Routes")) return false;
        for (size_t i = 0; i < routes->size(); ++i) {
          ChainRoute ignored;
          json as_chain_route = {{"Definition", (*routes)[i]}};
          if (!(*routes)[i].is_object()) return r.Fail(Index("Routes", i), "expected an object");
          Reader inner{r.where};
          inner.weak = r.weak;
          if (!DecodeRoute(inner, as_chain_route, "", &ignored)) {
            std::string msg(inner.status.message());
            msg = msg.substr(inner.where.size() + 2);
            if (msg.rfind("Definition.", 0) == 0) msg = msg.substr(11);
            return r.Fail(Index("Routes", i), msg);
          }
        }
      }
    } else if (kind == "service-splitter") {
      const json* splits = Field(e, "Splits");
      if (!splits) return r.Fail("Splits", "is required");
      if (!r.Array(*splits, "Splits")) return false;
      double total = 0;
      for (size_t i = 0; i < splits->size(); ++i) {
        double w = 0;
        if (!r.Object((*splits)[i], Index("Splits", i)) || !r.Number((*splits)[i], "Weight", Index("Splits", i), &w))
          return false;
        total += w;
      }
      if (std::fabs(total - 100) > 0.01) return r.Fail("Splits", "weights add up to " + std::to_string(total) + ", not 100");
    } else if (kind == "service-resolver") {
      std::optional<std::chrono::milliseconds> timeout;
      if (!r.Duration(e, "ConnectTimeout", "", &timeout)) return false;
      std::string default_subset;
      if (!r.String(e, "DefaultSubset", "", &default_subset)) return false;
      std::set<std::string> names;
      if (const json* subsets = Field(e, "Subsets")) {
        if (!r.Object(*subsets, "Subsets")) return false;
        for (auto it = subsets->begin(); it != subsets->end(); ++it) {
          std::string filter;
          if (!r.Object(it.value(), "Subsets." + it.key()) || !r.String(it.value(), "Filter", "Subsets." + it.key(), &filter))
            return false;
          names.insert(it.key());
        }
      }
      if (!default_subset.empty() && !names.count(default_subset))
        return r.Fail("DefaultSubset", "'" + default_subset + "' is not one of Subsets");
    }
    return true;
  });
}

}  // namespace tern::sources::consul
