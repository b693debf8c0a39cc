#pragma once
// The normalized world that every source feeds and the translator reads.
// Plain value types: no I/O, no protobuf, no Envoy names. Equality is structural, so the
// reconciler can tell what changed. Every user-written element carries an `origin` (file and
// path, or Consul entry) so that problems can name where they come from.
#include <chrono>
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

// What a matched request does: forward to one or more weighted clusters, or redirect.
struct RouteAction {
  std::vector<WeightedCluster> clusters;  // one entry = plain forward; several = weighted split
  std::optional<std::string> prefix_rewrite;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<RetryPolicy> retry;
  std::optional<Redirect> redirect;  // when set, clusters is empty
  bool operator==(const RouteAction&) const = default;
};

struct Route {
  std::string name;
  RouteMatch match;
  RouteAction action;
  std::string origin;
  bool operator==(const Route&) const = default;
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;
  std::vector<Route> routes;  // first match wins
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
  std::string origin;
  bool operator==(const Listener&) const = default;
};

// A gateway = a group of Envoys sharing one configuration; its name is their node.cluster.
struct Gateway {
  std::string name;
  std::vector<Listener> listeners;
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
  bool operator==(const World&) const = default;
};

// A problem found in input or in a merged world, with where it comes from.
struct Problem {
  std::string origin;   // e.g. "services.yaml:14:7 gateways[0].listeners[0]"
  std::string message;
  std::string ToString() const { return origin.empty() ? message : origin + ": " + message; }
  bool operator==(const Problem&) const = default;
};

// Merges source fragments (in order; a name defined by two sources is a problem and the first
// one wins) and checks cross references: every route's clusters and every TCP listener's
// cluster exist, weights of a split are not all zero, listener ports are unique per gateway,
// every secret a listener or cluster names exists and is of the right kind.
World Merge(const std::vector<const World*>& fragments, std::vector<Problem>* problems);
std::vector<Problem> Validate(const World& world);

}  // namespace tern::model
