#pragma once
// Fabio-compatible routing tags, so that services already tagged for Fabio move to Envoy
// unchanged. Pure: no I/O, no Consul; a Nomad source can feed the same instances.
//
// Tag format (Fabio's documented `urlprefix-` tags):
//
//     urlprefix-[host]/path [opt=value ...]      an HTTP route
//     urlprefix-:port proto=tcp                  a TCP listener on the gateway
//
// Options, separated by spaces:
//   strip=/prefix      forward /prefix/rest as /rest (must be a prefix of the route's path)
//   prepend=/prefix    forward /path/rest as /prefix/path/rest (after strip)
//   proto=http|grpc|tcp|https   upstream protocol; https is refused (tern needs a CA for upstream TLS)
//   redirect=CODE,URL  answer with a redirect (CODE 301, 302, 303, 307 or 308); URL is
//                      scheme://host[:port][/path] or ends with $path to keep the request's path
//   weight=0.x         the share (0 < w <= 1) of the route's traffic that the instances carrying
//                      this tag receive; the rest goes to the route's other instances
//   register=name      accepted and ignored (it tells Fabio to register itself)
// Options Fabio has and tern does not (allow, deny, auth, host, tlsskipverify, pxyproto) are
// errors: silently dropping an access rule or a Host rewrite would change what the route does.
//
// Mapping to the model (BuildFabioRoutes): every passing instance's tags are parsed; routes with
// the same host and path (from any service) become one model route whose targets are the tagged
// instances, grouped into one cluster per (service, weight). Routes go, longest path first, into
// one virtual host per host of one HTTP listener of each opted-in gateway; host-less routes into
// the `*` virtual host. A malformed tag is a Problem naming the service, instance and tag, and
// leaves out only that instance's route.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"

namespace tern::sources::tags {

inline constexpr char kFabioPrefix[] = "urlprefix-";

struct FabioRoute {
  std::string host;       // "" = any host
  std::string path;       // "/..." for HTTP routes; "" for TCP
  uint32_t tcp_port = 0;  // urlprefix-:PORT proto=tcp
  model::Protocol protocol = model::Protocol::kHttp;
  bool protocol_set = false;  // proto= was given
  std::optional<std::string> strip;
  std::optional<std::string> prepend;
  std::optional<model::Redirect> redirect;
  std::optional<double> weight;  // (0, 1]
  bool operator==(const FabioRoute&) const = default;

  // The path the upstream sees instead of `path` (strip, then prepend); nullopt = unchanged.
  std::optional<std::string> Rewrite() const;
};

bool IsFabioTag(const std::string& tag);

// Parses one tag; the error says what is wrong with it (the caller names the tag and instance).
absl::StatusOr<FabioRoute> ParseFabioTag(const std::string& tag);

// One service's passing instances as a source sees them (endpoints carry their tags).
struct TaggedService {
  std::string name;
  std::string origin;  // e.g. "consul service web": problems start with it
  model::Protocol protocol = model::Protocol::kHttp;  // used unless a tag says proto=
  std::vector<model::Endpoint> endpoints;
};

struct FabioOptions {
  std::vector<std::string> gateways;  // gateways that carry the Fabio routes; empty = none
  uint32_t port = 9999;               // their HTTP listener's port
};

// What the tags produce: clusters (named "<service>~fabio~<host><path>[~w<basis points>|~rest]"),
// the gateways of `options.gateways`, and per service the host-less weighted routes (see
// ServiceRouteAdditions).
struct FabioWorld {
  std::map<std::string, model::Cluster> clusters;
  std::vector<model::Gateway> gateways;
  // service → routes a proxyless client of that service follows before its default route: the
  // host-less routes of that service that carry weight=, as a split among its own instances.
  std::map<std::string, std::vector<model::Route>> service_routes;
};

FabioWorld BuildFabioRoutes(const std::vector<TaggedService>& services, const FabioOptions& options,
                            std::vector<model::Problem>* problems);

}  // namespace tern::sources::tags
