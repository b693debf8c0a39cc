#include "translate/route_builder.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "translate/http_policy.h"
#include "translate/proto_util.h"

namespace tern::translate {
namespace {

namespace route = envoy::config::route::v3;

// Status sent when every cluster a route forwards to is missing: the route still has to exist
// (dropping it would let its requests fall through to a later, broader route).
constexpr uint32_t kNoClusterStatus = 503;

// The header_match_specifier fields that predate string_match: Envoy still accepts them, and
// gRPC 1.51 (Debian's) understands only these; with string_match it NACKs the whole route
// configuration.
// The deprecation warning is silenced for exactly these calls (the build has -Werror).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void SetHeaderMatch(const std::string& name, const model::StringMatch& m, route::HeaderMatcher* out) {
  using Kind = model::StringMatch::Kind;
  out->set_name(name);
  switch (m.kind) {
    case Kind::kPresent: out->set_present_match(true); break;
    case Kind::kExact: out->set_exact_match(m.value); break;
    case Kind::kPrefix: out->set_prefix_match(m.value); break;
    case Kind::kSuffix: out->set_suffix_match(m.value); break;
    case Kind::kContains: out->set_contains_match(m.value); break;
    case Kind::kRegex: out->mutable_safe_regex_match()->set_regex(m.value); break;
  }
  out->set_invert_match(m.invert);
}
#pragma GCC diagnostic pop

// Method names are tokens, but a stray metacharacter must not change the regex's meaning.
void EscapeRegex(std::string* out, const std::string& literal) {
  for (char c : literal) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') out->push_back('\\');
    out->push_back(c);
  }
}

route::RedirectAction::RedirectResponseCode RedirectCode(uint32_t code) {
  switch (code) {
    case 302: return route::RedirectAction::FOUND;
    case 303: return route::RedirectAction::SEE_OTHER;
    case 307: return route::RedirectAction::TEMPORARY_REDIRECT;
    case 308: return route::RedirectAction::PERMANENT_REDIRECT;
    default: return route::RedirectAction::MOVED_PERMANENTLY;
  }
}

void SetRedirect(const model::Redirect& r, route::RedirectAction* out) {
  out->set_response_code(RedirectCode(r.code));
  if (!r.host.empty()) out->set_host_redirect(r.host);
  if (!r.path.empty()) out->set_path_redirect(r.path);
  if (r.scheme == "https") {
    out->set_https_redirect(true);
  } else if (!r.scheme.empty()) {
    out->set_scheme_redirect(r.scheme);
  }
}

void SetRetry(const model::RetryPolicy& r, route::RetryPolicy* out) {
  // Consul's order: its RetryOn list, then connect-failure, then retriable-status-codes.
  std::vector<std::string> on;
  auto add = [&on](const std::string& c) {
    if (std::find(on.begin(), on.end(), c) == on.end()) on.push_back(c);
  };
  for (const auto& c : r.retry_on) add(c);
  if (r.on_connect_failure) add("connect-failure");
  if (!r.on_status_codes.empty()) add("retriable-status-codes");
  out->set_retry_on(absl::StrJoin(on, ","));
  out->mutable_num_retries()->set_value(r.num_retries);
  for (uint32_t code : r.on_status_codes) out->add_retriable_status_codes(code);
  if (r.per_try_timeout) SetDuration(*r.per_try_timeout, out->mutable_per_try_timeout());
}

using envoy::config::core::v3::HeaderValueOption;

// Consul's Add appends a value, Set replaces; Envoy says so with append_action (the deprecated
// `append` flag is left unset, as Envoy requires when append_action is used).
void AddHeaders(const model::HeaderRules& rules,
                google::protobuf::RepeatedPtrField<HeaderValueOption>* to_add,
                google::protobuf::RepeatedPtrField<std::string>* to_remove) {
  for (const auto& [name, value] : rules.add) {
    auto* h = to_add->Add();
    h->mutable_header()->set_key(name);
    h->mutable_header()->set_value(value);
    h->set_append_action(HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  }
  for (const auto& [name, value] : rules.set) {
    auto* h = to_add->Add();
    h->mutable_header()->set_key(name);
    h->mutable_header()->set_value(value);
    h->set_append_action(HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  }
  for (const auto& name : rules.remove) to_remove->Add(std::string(name));
}

}  // namespace

std::vector<std::vector<std::string>> RouteBuilder::ClaimDomains(const std::vector<model::VirtualHost>& virtual_hosts) {
  std::vector<std::vector<std::string>> out;
  out.reserve(virtual_hosts.size());
  std::set<std::string> claimed;
  for (const auto& vh : virtual_hosts) {
    auto& domains = out.emplace_back();
    for (const auto& d : vh.domains) {
      if (claimed.insert(d).second) domains.push_back(d);
    }
  }
  return out;
}

void RouteBuilder::BuildHost(const std::string& name, const model::VirtualHost& vh, std::vector<std::string> domains,
                             route::VirtualHost* v, const std::string& resource_name) const {
  // Envoy requires a name; an unnamed host is named after the first domain it serves.
  const std::string host_name = vh.name.empty() ? domains.front() : vh.name;
  v->set_name(resource_name.empty() ? host_name : resource_name);
  for (auto& d : domains) v->add_domains(std::move(d));
  AddHeaders(vh.request_headers, v->mutable_request_headers_to_add(), v->mutable_request_headers_to_remove());
  AddHeaders(vh.response_headers, v->mutable_response_headers_to_add(), v->mutable_response_headers_to_remove());
  if (gateway_filters_ && vh.rate_limit) {
    SetRateLimitOverride(*vh.rate_limit, name + "/" + host_name, v->mutable_typed_per_filter_config());
  }
  for (const auto& r : vh.routes) BuildRoute(r, v->add_routes());
}

std::unique_ptr<route::RouteConfiguration> RouteBuilder::Build(
    const std::string& name, const std::vector<model::VirtualHost>& virtual_hosts) const {
  auto out = std::make_unique<route::RouteConfiguration>();
  out->set_name(name);
  // A host left with no domain is dropped (it could never match).
  auto domains = ClaimDomains(virtual_hosts);
  for (size_t i = 0; i < virtual_hosts.size(); ++i) {
    if (domains[i].empty()) continue;
    BuildHost(name, virtual_hosts[i], std::move(domains[i]), out->add_virtual_hosts());
  }
  return out;
}

std::unique_ptr<route::RouteConfiguration> RouteBuilder::BuildOnDemand(const std::string& name,
                                                                       const std::string& xds_cluster) const {
  using envoy::config::core::v3::ApiConfigSource;
  auto out = std::make_unique<route::RouteConfiguration>();
  out->set_name(name);
  auto* source = out->mutable_vhds()->mutable_config_source();
  auto* api = source->mutable_api_config_source();
  api->set_api_type(ApiConfigSource::DELTA_GRPC);
  api->set_transport_api_version(envoy::config::core::v3::V3);
  api->add_grpc_services()->mutable_envoy_grpc()->set_cluster_name(xds_cluster);
  source->set_resource_api_version(envoy::config::core::v3::V3);
  return out;
}

void RouteBuilder::BuildRoute(const model::Route& r, route::Route* out) const {
  if (!r.name.empty()) out->set_name(r.name);
  BuildMatch(r.match, out->mutable_match());
  BuildAction(r.action, out);
  AddHeaders(r.action.request_headers, out->mutable_request_headers_to_add(), out->mutable_request_headers_to_remove());
  AddHeaders(r.action.response_headers, out->mutable_response_headers_to_add(),
             out->mutable_response_headers_to_remove());
  if (gateway_filters_ && r.rate_limit) {
    SetRateLimitOverride(*r.rate_limit, r.name.empty() ? "route" : r.name, out->mutable_typed_per_filter_config());
  }
}

void RouteBuilder::BuildMatch(const model::RouteMatch& m, route::RouteMatch* out) const {
  switch (m.path_kind) {
    case model::RouteMatch::PathKind::kPrefix: out->set_prefix(m.path); break;
    case model::RouteMatch::PathKind::kExact: out->set_path(m.path); break;
    case model::RouteMatch::PathKind::kRegex: out->mutable_safe_regex()->set_regex(m.path); break;
  }
  for (const auto& h : m.headers) SetHeaderMatch(h.name, h.match, out->add_headers());
  for (const auto& q : m.query) {
    auto* qm = out->add_query_parameters();
    qm->set_name(q.name);
    if (q.match.kind == model::StringMatch::Kind::kPresent) {
      qm->set_present_match(true);
    } else {
      // QueryParameterMatcher has no invert flag; an inverted query match cannot be expressed
      // and matches positively (model::Validate is the place to reject it).
      SetStringMatcher(q.match, qm->mutable_string_match());
    }
  }
  if (!m.methods.empty()) {
    // Envoy and gRPC both see the method as the :method pseudo-header.
    model::StringMatch methods{.kind = model::StringMatch::Kind::kRegex,
                               .value = "^(" + absl::StrJoin(m.methods, "|", EscapeRegex) + ")$",
                               .invert = false};
    SetHeaderMatch(":method", methods, out->add_headers());
  }
}

void RouteBuilder::BuildAction(const model::RouteAction& a, route::Route* out) const {
  if (a.redirect) {
    SetRedirect(*a.redirect, out->mutable_redirect());
    return;
  }
  // A zero-weight share is left out of the route: gRPC ignores (C++) or mishandles (Go) such
  // entries, and Envoy sends it nothing anyway. Its cluster still counts as used, so a canary at
  // 0% is already warm in CDS when its weight goes up.
  std::vector<model::WeightedCluster> targets;
  uint64_t total = 0;
  bool referenced = false;
  for (const auto& wc : a.clusters) {
    if (!clusters_.contains(wc.cluster)) continue;
    used_->insert(wc.cluster);
    referenced = true;
    if (wc.weight == 0 && a.clusters.size() > 1) continue;
    targets.push_back(wc);
    total += wc.weight;
  }
  if (!referenced || targets.empty()) {
    out->mutable_direct_response()->set_status(kNoClusterStatus);
    return;
  }
  auto* ra = out->mutable_route();
  if (targets.size() == 1) {
    ra->set_cluster(targets[0].cluster);
  } else {
    // Envoy and gRPC both reject a split whose weights sum past uint32; scale it down.
    constexpr uint64_t kMax = 0xFFFFFFFFull;
    const uint64_t divisor = total > kMax ? total / kMax + 1 : 1;
    auto* wcs = ra->mutable_weighted_clusters();
    uint64_t sum = 0;
    for (const auto& t : targets) {
      auto* c = wcs->add_clusters();
      c->set_name(t.cluster);
      uint32_t w = static_cast<uint32_t>(std::max<uint64_t>(1, t.weight / divisor));
      c->mutable_weight()->set_value(w);
      sum += w;
    }
    // total_weight is deprecated, but gRPC 1.51 assumes 100 when it is absent and rejects other
    // sums; Envoy accepts it when it equals the sum. Setting it keeps both exact.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (sum <= kMax) wcs->mutable_total_weight()->set_value(static_cast<uint32_t>(sum));
#pragma GCC diagnostic pop
  }
  if (a.prefix_rewrite) ra->set_prefix_rewrite(*a.prefix_rewrite);
  if (a.timeout) SetDuration(*a.timeout, ra->mutable_timeout());
  if (a.idle_timeout) SetDuration(*a.idle_timeout, ra->mutable_idle_timeout());
  if (a.retry) SetRetry(*a.retry, ra->mutable_retry_policy());
}

}  // namespace tern::translate
