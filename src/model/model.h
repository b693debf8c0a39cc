#pragma once
// The normalized world that every source feeds and the translator reads.
// Plain value types: no I/O, no protobuf, no Envoy names. Equality is structural, so the
// reconciler can tell what changed. Every user-written element carries an `origin` (file and
// path, or Consul entry) so that problems can name where they come from.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tern::model {

enum class Protocol { kHttp, kHttp2, kGrpc, kTcp };
enum class Health { kPassing, kWarning, kCritical, kMaintenance };
enum class LbPolicy { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev };

const char* ToString(Protocol p);
const char* ToString(Health h);
const char* ToString(LbPolicy p);

// One backend instance.
struct Endpoint {
  std::string id;       // instance id (Consul service ID, Nomad alloc, file entry); for debugging
  std::string address;  // IP or hostname
  uint32_t port = 0;
  uint32_t weight = 1;  // effective load-balancing weight (>0 to receive traffic)
  Health health = Health::kPassing;
  std::string zone;     // locality zone; "" is the default locality
  uint32_t priority = 0;  // 0 = primary; higher = failover levels
  std::map<std::string, std::string> metadata;
  std::vector<std::string> tags;
  bool operator==(const Endpoint&) const = default;
};

struct CircuitBreakers {
  std::optional<uint32_t> max_connections;
  std::optional<uint32_t> max_pending_requests;
  std::optional<uint32_t> max_requests;
  std::optional<uint32_t> max_retries;
  bool operator==(const CircuitBreakers&) const = default;
};

// Passive health checking (Envoy outlier detection).
struct OutlierDetection {
  uint32_t consecutive_5xx = 5;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds base_ejection_time{30000};
  uint32_t max_ejection_percent = 10;
  std::optional<uint32_t> enforcing_consecutive_5xx;  // percent; unset = Envoy's default (100)
  bool operator==(const OutlierDetection&) const = default;
};

// A named TLS secret, served to Envoy over SDS under `name`. A secret is either a certificate
// with its private key (what a listener presents, or a client certificate for upstream mTLS) or
// a CA bundle (what a peer's certificate is verified against). The PEM text is held as read from
// its origin (files, Consul's CA); the source has already checked that it parses and that the key
// matches the certificate. Private keys never go into logs, problems or debug output.
struct Secret {
  enum class Kind { kTlsCertificate, kValidationContext };
  std::string name;
  Kind kind = Kind::kTlsCertificate;
  std::string cert_chain_pem;   // kTlsCertificate: leaf first, then intermediates
  std::string private_key_pem;  // kTlsCertificate
  std::string trusted_ca_pem;   // kValidationContext: one or more CA certificates
  std::string origin;
  bool operator==(const Secret&) const = default;
};

const char* ToString(Secret::Kind k);

// Upstream TLS to a cluster's endpoints. The upstream's certificate is always verified against
// `ca_secret` (a kValidationContext secret); `verify_sans`, when not empty, also requires one of
// these subject alternative names (a "scheme://..." value is matched as a URI SAN, e.g. SPIFFE
// ids; an IP literal as an IP SAN; anything else as a DNS SAN). `client_cert_secret` (a
// kTlsCertificate secret) turns on mTLS: it is presented to the upstream.
struct UpstreamTls {
  std::string sni;  // server name sent in the ClientHello; "" sends none
  std::string ca_secret;
  std::string client_cert_secret;  // "" = no client certificate
  std::vector<std::string> verify_sans;
  bool operator==(const UpstreamTls&) const = default;
};

// An upstream cluster: one set of endpoints (a whole service, or a subset of it), with how to
// connect to it. Its name is the CDS and EDS resource name.
struct Cluster {
  std::string name;
  std::string service;  // the service its endpoints belong to
  Protocol protocol = Protocol::kHttp;  // kHttp2/kGrpc: HTTP/2 to the upstream
  std::chrono::milliseconds connect_timeout{5000};
  LbPolicy lb_policy = LbPolicy::kRoundRobin;
  CircuitBreakers circuit_breakers;
  std::optional<OutlierDetection> outlier_detection;
  std::vector<Endpoint> endpoints;
  std::optional<UpstreamTls> tls;  // absent = plaintext to the endpoints
  std::string origin;
  bool operator==(const Cluster&) const = default;
};

struct StringMatch {
  enum class Kind { kExact, kPrefix, kSuffix, kContains, kRegex, kPresent };
  Kind kind = Kind::kExact;
  std::string value;  // unused for kPresent
  bool invert = false;
  bool operator==(const StringMatch&) const = default;
};

struct HeaderMatch {
  std::string name;
  StringMatch match;
  bool operator==(const HeaderMatch&) const = default;
};

struct QueryMatch {
  std::string name;
  StringMatch match;
  bool operator==(const QueryMatch&) const = default;
};

struct RouteMatch {
  enum class PathKind { kPrefix, kExact, kRegex };
  PathKind path_kind = PathKind::kPrefix;
  std::string path = "/";
  std::vector<HeaderMatch> headers;
  std::vector<QueryMatch> query;
  std::vector<std::string> methods;  // empty = any
  bool operator==(const RouteMatch&) const = default;
};

struct WeightedCluster {
  std::string cluster;
  uint32_t weight = 0;
  bool operator==(const WeightedCluster&) const = default;
};

// Retries. The Envoy retry_on string is the union of on_connect_failure ("connect-failure"),
// on_status_codes ("retriable-status-codes") and retry_on. When all three are empty (Consul's
// NumRetries alone), retry_on is empty exactly as Consul's own Envoy configuration has it: the
// proxy then retries, up to num_retries, only the conditions a request names itself in
// x-envoy-retry-on / x-envoy-retry-grpc-on (see docs/consul.md).
struct RetryPolicy {
  uint32_t num_retries = 1;
  bool on_connect_failure = false;
  std::vector<uint32_t> on_status_codes;
  std::vector<std::string> retry_on;  // extra Envoy retry_on conditions, e.g. "5xx", "reset"
  std::optional<std::chrono::milliseconds> per_try_timeout;
  bool operator==(const RetryPolicy&) const = default;
};

struct Redirect {
  uint32_t code = 301;       // 301, 302, 303, 307, 308
  std::string host;          // "" keeps the request's host
  std::string path;          // "" keeps the request's path
  std::string scheme;        // "" keeps; "https" upgrades
  bool operator==(const Redirect&) const = default;
};

// Header rewrites on a request or a response (Consul's HTTPHeaderModifiers): `add` appends a
// value (keeping any the message already has), `set` replaces them, `remove` deletes the header.
// Names are lower-case HTTP header names; pseudo-headers and `host` are refused by the sources.
struct HeaderRules {
  std::map<std::string, std::string> add;
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
  bool empty() const { return add.empty() && set.empty() && remove.empty(); }
  bool operator==(const HeaderRules&) const = default;
};

// What a matched request does: forward to one or more weighted clusters, or redirect.
struct RouteAction {
  std::vector<WeightedCluster> clusters;  // one entry = plain forward; several = weighted split
  std::optional<std::string> prefix_rewrite;
  std::optional<std::chrono::milliseconds> timeout;       // whole request; 0 = no limit
  std::optional<std::chrono::milliseconds> idle_timeout;  // stream idle; 0 = no limit
  std::optional<RetryPolicy> retry;
  std::optional<Redirect> redirect;  // when set, clusters is empty
  HeaderRules request_headers;   // applied before forwarding
  HeaderRules response_headers;  // applied to the response sent back
  bool operator==(const RouteAction&) const = default;
};

// A local rate limit (Envoy's token bucket, per proxy instance): the bucket holds `max_tokens`,
// `tokens_per_fill` come back every `fill_interval`; a request without a token is answered with
// `status` (429). `response_headers` adds x-ratelimit-limit/-remaining/-reset to responses.
struct RateLimit {
  uint32_t max_tokens = 0;
  uint32_t tokens_per_fill = 0;
  std::chrono::milliseconds fill_interval{1000};
  uint32_t status = 429;
  bool response_headers = false;
  std::string origin;
  bool operator==(const RateLimit&) const = default;
};

struct Route {
  std::string name;
  RouteMatch match;
  RouteAction action;
  std::optional<RateLimit> rate_limit;  // this route's own bucket
  std::string origin;
  bool operator==(const Route&) const = default;
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;  // first match wins
  std::optional<RateLimit> rate_limit;  // one bucket for the host's routes without their own
  HeaderRules request_headers;   // every route of the host (Consul: ingress per-service headers)
  HeaderRules response_headers;
  std::string origin;
  bool operator==(const VirtualHost&) const = default;
};

// One certificate of a TLS listener, chosen by the SNI the client sends. Empty `server_names`
// makes it the listener's default certificate (clients without SNI, or with an unlisted one).
struct SniCert {
  std::vector<std::string> server_names;  // exact names or "*.example.com"
  std::string secret;  // a kTlsCertificate secret
  bool operator==(const SniCert&) const = default;
};

// Downstream TLS on a gateway listener: the listener accepts TLS only (TLS 1.2 or newer).
struct ListenerTls {
  std::vector<SniCert> certs;  // at least one
  bool require_client_cert = false;  // mTLS: needs client_ca_secret
  std::string client_ca_secret;      // a kValidationContext secret; "" = no client verification
  std::vector<std::string> alpn = {"h2", "http/1.1"};
  bool operator==(const ListenerTls&) const = default;
};

// A gateway listener. HTTP-like protocols carry virtual hosts; kTcp forwards to tcp_cluster.
struct Listener {
  std::string name;  // LDS resource name; its route configuration has the same name
  std::string address = "0.0.0.0";
  uint32_t port = 0;
  Protocol protocol = Protocol::kHttp;
  std::vector<VirtualHost> virtual_hosts;
  std::string tcp_cluster;
  std::optional<ListenerTls> tls;  // absent = plaintext
  std::optional<RateLimit> rate_limit;  // HTTP: one bucket for requests without a host/route one
  std::string origin;
  bool operator==(const Listener&) const = default;
};

// Distributed tracing on every HTTP connection manager of a gateway (never on the API listeners
// of proxyless clients). Spans go to `collector_cluster`, a cluster of the world, which the
// gateway then receives like any cluster it routes to. OpenTelemetry exports OTLP over gRPC and
// propagates W3C traceparent; Zipkin posts JSON to `zipkin_endpoint` and propagates B3.
struct Tracing {
  enum class Provider { kOpenTelemetry, kZipkin };
  struct Tag {
    enum class Kind { kLiteral, kRequestHeader, kEnvironment };
    std::string name;
    Kind kind = Kind::kLiteral;
    std::string value;          // the literal, or the header / environment variable to read
    std::string default_value;  // when the header or variable is absent
    bool operator==(const Tag&) const = default;
  };
  Provider provider = Provider::kOpenTelemetry;
  std::string collector_cluster;
  std::string zipkin_endpoint = "/api/v2/spans";
  std::string service_name;         // "" = the gateway's name
  double random_sampling = 100.0;   // percent of requests traced (0..100)
  double client_sampling = 100.0;   // percent of client-forced traces (x-client-trace-id) kept
  double overall_sampling = 100.0;  // upper bound after the other two
  std::vector<Tag> tags;
  std::string origin;
  bool operator==(const Tracing&) const = default;
};

// x-request-id handling on a gateway's HTTP connection managers.
struct RequestId {
  bool generate = true;             // make one when the request has none
  bool preserve_external = false;   // keep an id sent by an outside client
  bool always_in_response = false;  // echo it in every response
  bool operator==(const RequestId&) const = default;
};

// One access log of a gateway's HTTP connection managers. With neither json_format nor
// text_format, the documented default JSON field set (docs/config.md) is written.
struct AccessLog {
  enum class Sink { kFile, kStdout, kStderr, kGrpc };
  struct StatusRange {
    uint32_t min = 100;
    uint32_t max = 599;
    bool operator==(const StatusRange&) const = default;
  };
  Sink sink = Sink::kStdout;
  std::string path;          // kFile
  std::string grpc_cluster;  // kGrpc: an access-log service (envoy.service.accesslog.v3)
  std::string grpc_log_name;
  std::map<std::string, std::string> json_format;  // field → Envoy command operator
  std::string text_format;
  std::vector<StatusRange> status_ranges;  // log only these responses (any range); empty = all
  double sample_percent = 100.0;           // of the requests that pass the status filter
  // Also log connections a gateway listener closes before any filter chain takes them (no SNI
  // match, a failed TLS handshake): Consul's "listener logs" (AccessLogs.DisableListenerLogs
  // false). Status ranges do not apply there (there is no response).
  bool listener = false;
  std::string origin;
  bool operator==(const AccessLog&) const = default;
};

// Telemetry that applies to a gateway unless the gateway sets its own (tern-wide defaults).
struct GatewayDefaults {
  std::optional<Tracing> tracing;
  std::optional<std::vector<AccessLog>> access_logs;
  std::optional<RequestId> request_id;
  std::string origin;
  bool operator==(const GatewayDefaults&) const = default;
};

// A gateway = a group of Envoys sharing one configuration; its name is their node.cluster.
// How a gateway's HTTP route tables reach its Envoys (docs/xds.md "Virtual hosts on demand").
// kInline: every virtual host inside the route configuration (RDS). kOnDemand: the route
// configuration names VHDS and each virtual host is a resource of its own, sent only to the
// Envoys that ask for its host. kAuto: on demand for a route table of more than
// kVhdsAutoThreshold virtual hosts, inline otherwise.
enum class VhdsMode { kAuto, kInline, kOnDemand };

// What one gateway applies to its own traffic to an upstream cluster (Consul: the ingress-gateway
// entry's Defaults and per-service limits, the gateway's service-defaults UpstreamConfig). The
// gateway then receives its own variant of that cluster (same name, this content); every other
// gateway and proxyless client keeps the cluster as it is. Each circuit-breaker field that is set
// replaces the cluster's; an outlier detection replaces the cluster's whole; so does a connect
// timeout.
struct UpstreamPolicy {
  CircuitBreakers circuit_breakers;
  std::optional<OutlierDetection> outlier_detection;
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::string origin;
  bool empty() const {
    return circuit_breakers == CircuitBreakers{} && !outlier_detection && !connect_timeout;
  }
  bool operator==(const UpstreamPolicy&) const = default;
};
inline constexpr size_t kVhdsAutoThreshold = 200;

struct Gateway {
  std::string name;
  std::vector<Listener> listeners;
  VhdsMode vhds = VhdsMode::kAuto;
  // Absent = the world's defaults; present = this gateway's own (an empty list = no logs).
  std::optional<Tracing> tracing;
  std::optional<std::vector<AccessLog>> access_logs;
  std::optional<RequestId> request_id;
  // By cluster name: this gateway's own limits on its traffic to that cluster (UpstreamPolicy).
  std::map<std::string, UpstreamPolicy> upstreams;
  std::string origin;
  bool operator==(const Gateway&) const = default;
};

// How requests addressed to a service are routed (Consul's discovery chain, or file routes).
// Proxyless gRPC clients asking for listener `service` get these routes. No entry = all
// traffic to the cluster named like the service.
struct ServiceRoutes {
  std::string service;
  std::vector<Route> routes;
  std::string origin;
  bool operator==(const ServiceRoutes&) const = default;
};

// Everything one source contributes, or (merged) the whole world. Keys are names.
struct World {
  std::map<std::string, Cluster> clusters;
  std::map<std::string, Gateway> gateways;
  std::map<std::string, ServiceRoutes> service_routes;
  std::map<std::string, Secret> secrets;  // by secret name (= SDS resource name)
  std::optional<GatewayDefaults> defaults;  // at most one source sets them
  bool operator==(const World&) const = default;
};

// A problem found in input or in a merged world, with where it comes from.
struct Problem {
  std::string origin;   // e.g. "services.yaml:14:7 gateways[0].listeners[0]"
  std::string message;
  // The name of the element the problem is about, when the decoder knows it (a Consul config
  // entry's Name): the source keeps that element's last good version. "" = not one element.
  std::string element;
  std::string ToString() const { return origin.empty() ? message : origin + ": " + message; }
  bool operator==(const Problem&) const = default;
};

// The retry conditions Envoy's router knows (HTTP and gRPC, as in x-envoy-retry-on and
// x-envoy-retry-grpc-on). Anything else Envoy would ignore silently, so sources refuse it.
bool IsRetryCondition(const std::string& condition);
std::string RetryConditionList();  // "5xx, gateway-error, ..." for error messages

// Checks a header name for a HeaderRules entry: a non-empty HTTP token, not a pseudo-header and
// not `host` (Envoy refuses to rewrite those). Returns "" when it is fine, or why it is not.
std::string HeaderNameProblem(const std::string& name);
// Checks a header value: no CR, LF or NUL. Returns "" or why not.
std::string HeaderValueProblem(const std::string& value);

// Merges source fragments (in order; a name defined by two sources is a problem and the first
// one wins) and checks cross references: every route's clusters and every TCP listener's
// cluster exist, weights of a split are not all zero, listener ports are unique per gateway,
// every secret a listener or cluster names exists and is of the right kind.
World Merge(const std::vector<const World*>& fragments, std::vector<Problem>* problems);
std::vector<Problem> Validate(const World& world);

}  // namespace tern::model
