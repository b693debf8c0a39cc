// tern-vhds-bench: bytes an Envoy receives when one host is added to a gateway of N hosts
// (default 5,000), with the gateway's route table inline (RDS) and on demand (VHDS).
//
// For each mode it starts the real `build/tern serve` on a generated services.yaml (N HTTP
// services, one virtual host each, "svc-<i>.example.com", behind gateway `edge`), connects one
// raw delta ADS stream as an Envoy of `edge` and subscribes it to what such an Envoy holds:
//   inline:    the route configuration `http` (every host inside it);
//   on_demand: the route configuration `http` (no host inside) on ADS, and on a VHDS stream (as
//              the route configuration names it) the virtual hosts of --held hosts it has seen
//              traffic for (default 100) and the host about to be added (an Envoy that got a
//              request for it was told it is unknown).
// Then it rewrites services.yaml with one more service and host and counts the bytes of every
// response that arrives until the one carrying the new host, and during --quiet-ms after it.
// Not subscribed to CDS/EDS: the new service's cluster costs the same in both modes.
//
// Output: one JSON object per mode, then the ratio, on stdout.
//   build/tern-vhds-bench [--hosts 5000] [--held 100] [--quiet-ms 1000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/type_urls.h"
#include "envoy/config/route/v3/route.pb.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_process.h"

namespace tern::bench {
namespace {

using testing::DeltaDiscoveryRequest;
using testing::DeltaDiscoveryResponse;
using testing::RawXdsClient;
using Clock = std::chrono::steady_clock;

constexpr char kDeltaAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
constexpr char kDeltaVhds[] = "/envoy.service.route.v3.VirtualHostDiscoveryService/DeltaVirtualHosts";

std::string Svc(int i) { return "svc-" + std::to_string(i); }

std::string ServicesYaml(int hosts, const std::string& mode) {
  std::string services = "services:\n";
  std::string vhosts;
  services.reserve(static_cast<size_t>(hosts) * 100);
  vhosts.reserve(static_cast<size_t>(hosts) * 120);
  for (int i = 0; i < hosts; ++i) {
    services += "  - { name: " + Svc(i) + ", protocol: http, endpoints: [ { address: 10.1." +
                std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ", port: 8080 } ] }\n";
    vhosts += "          - { name: " + Svc(i) + ", domains: [\"" + Svc(i) + ".example.com\"], routes: [ { match: { prefix: / }, service: " +
              Svc(i) + " } ] }\n";
  }
  return services + "gateways:\n  - name: edge\n    vhds: " + mode +
         "\n    listeners:\n      - name: http\n        port: 10000\n        virtual_hosts:\n" + vhosts;
}

struct Result {
  std::string mode;
  size_t initial_bytes = 0;   // what the subscriptions cost before the change
  size_t change_bytes = 0;    // every response of the change
  size_t change_responses = 0;
  size_t change_resources = 0;
  double change_ms = 0;       // file written → the response carrying the new host
};

bool Send(RawXdsClient& c, const std::string& type, const std::vector<std::string>& names, bool node) {
  DeltaDiscoveryRequest req;
  req.set_type_url(type);
  if (node) {
    req.mutable_node()->set_id("bench-envoy");
    req.mutable_node()->set_cluster("edge");
  }
  for (const auto& n : names) req.add_resource_names_subscribe(n);
  return c.Send(req);
}

void Ack(RawXdsClient& c, const DeltaDiscoveryResponse& r) {
  DeltaDiscoveryRequest ack;
  ack.set_type_url(r.type_url());
  ack.set_response_nonce(r.nonce());
  c.Send(ack);
}

bool CarriesNewHost(const DeltaDiscoveryResponse& r, const std::string& host) {
  for (const auto& res : r.resources()) {
    if (!res.has_resource()) continue;
    envoy::config::route::v3::VirtualHost one;
    if (r.type_url() == kVirtualHostType && res.resource().UnpackTo(&one)) {
      if (one.domains_size() > 0 && one.domains(0) == host) return true;
      continue;
    }
    envoy::config::route::v3::RouteConfiguration rc;
    if (res.resource().UnpackTo(&rc)) {
      for (const auto& vh : rc.virtual_hosts()) {
        if (vh.domains_size() > 0 && vh.domains(0) == host) return true;
      }
    }
  }
  return false;
}

std::optional<Result> Run(const std::string& mode, int hosts, int held, int quiet_ms) {
  testing::TempDir dir;
  if (!testing::WriteFileAtomic(dir.File("services.yaml"), ServicesYaml(hosts, mode)).ok()) return std::nullopt;
  auto tern = testing::TernServer::Start(
      {.dir = dir.path(), .files = {"services.yaml"}, .ready_timeout = std::chrono::seconds(180)});
  if (!tern.ok()) {
    std::fprintf(stderr, "tern serve (%s): %s\n", mode.c_str(), std::string(tern.status().message()).c_str());
    return std::nullopt;
  }
  // An Envoy's two streams: ADS (here for RDS) and, for an on-demand route table, the VHDS stream
  // its route configuration names.
  RawXdsClient ads((*tern)->xds_address(), kDeltaAds);
  std::unique_ptr<RawXdsClient> vhds;
  Result out;
  out.mode = mode;
  const std::string new_host = Svc(hosts) + ".example.com";
  auto next = [&](RawXdsClient& c, std::chrono::milliseconds t, size_t* bytes) {
    auto r = c.NextDelta(t, bytes);
    if (r) Ack(c, *r);
    return r;
  };
  size_t bytes = 0;
  if (!Send(ads, std::string(kRouteType), {"http"}, true)) return std::nullopt;
  auto rds = next(ads, std::chrono::seconds(60), &bytes);
  if (!rds) return std::nullopt;
  out.initial_bytes += bytes;
  if (mode == "on_demand") {
    vhds = std::make_unique<RawXdsClient>((*tern)->xds_address(), kDeltaVhds);
    std::vector<std::string> names;
    const int stride = std::max(1, hosts / std::max(held, 1));
    for (int i = 0; i < held && i * stride < hosts; ++i) names.push_back("http/" + Svc(i * stride) + ".example.com");
    names.push_back("http/" + new_host);
    if (!Send(*vhds, std::string(kVirtualHostType), names, true)) return std::nullopt;
    auto v = next(*vhds, std::chrono::seconds(60), &bytes);
    if (!v) return std::nullopt;
    out.initial_bytes += bytes;
  }
  std::vector<RawXdsClient*> streams = {&ads};
  if (vhds) streams.push_back(vhds.get());
  for (RawXdsClient* c : streams) {
    while (next(*c, std::chrono::milliseconds(quiet_ms), &bytes)) out.initial_bytes += bytes;
  }

  const auto t0 = Clock::now();
  if (!testing::WriteFileAtomic(dir.File("services.yaml"), ServicesYaml(hosts + 1, mode)).ok()) return std::nullopt;
  auto count = [&](const DeltaDiscoveryResponse& r) {
    out.change_bytes += bytes;
    out.change_responses++;
    out.change_resources += static_cast<size_t>(r.resources_size());
  };
  // The stream that carries the new host, until it does.
  RawXdsClient& carrier = vhds ? *vhds : ads;
  bool seen = false;
  while (!seen) {
    auto r = next(carrier, std::chrono::seconds(120), &bytes);
    if (!r) break;
    count(*r);
    if (CarriesNewHost(*r, new_host)) {
      seen = true;
      out.change_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    }
  }
  if (!seen) {
    std::fprintf(stderr, "%s: the new host never arrived\n", mode.c_str());
    return std::nullopt;
  }
  // Whatever else the change sends on either stream.
  for (RawXdsClient* c : streams) {
    while (auto r = next(*c, std::chrono::milliseconds(quiet_ms), &bytes)) count(*r);
  }
  return out;
}

}  // namespace
}  // namespace tern::bench

int main(int argc, char** argv) {
  int hosts = 5000, held = 100, quiet_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--hosts")) {
      hosts = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--held")) {
      held = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--quiet-ms")) {
      quiet_ms = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: %s [--hosts N] [--held N] [--quiet-ms MS]\n", argv[0]);
      return 2;
    }
  }
  std::vector<tern::bench::Result> results;
  for (const char* mode : {"inline", "on_demand"}) {
    auto r = tern::bench::Run(mode, hosts, held, quiet_ms);
    if (!r) return 1;
    std::printf(
        "{\"scenario\": \"vhds-add-host\", \"mode\": \"%s\", \"hosts\": %d, \"held\": %d, \"initial_bytes\": %zu, "
        "\"change_bytes\": %zu, \"change_responses\": %zu, \"change_resources\": %zu, \"change_ms\": %.1f}\n",
        r->mode.c_str(), hosts, r->mode == "inline" ? 0 : held, r->initial_bytes, r->change_bytes, r->change_responses,
        r->change_resources, r->change_ms);
    std::fflush(stdout);
    results.push_back(*r);
  }
  std::printf("{\"scenario\": \"vhds-add-host\", \"bytes_ratio_vhds_over_inline\": %.6f}\n",
              static_cast<double>(results[1].change_bytes) / static_cast<double>(results[0].change_bytes));
  return 0;
}
