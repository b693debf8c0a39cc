#pragma once
// Worlds for the translate tests, built the way a source would build them.
#include <memory>
#include <string>

#include "model/model.h"
#include "translate/translator.h"

namespace tern::translate::testing {

inline model::Endpoint Ep(std::string address, uint32_t port, model::Health health = model::Health::kPassing,
                          uint32_t weight = 1, std::string zone = "", uint32_t priority = 0) {
  model::Endpoint e;
  e.id = address + ":" + std::to_string(port);
  e.address = std::move(address);
  e.port = port;
  e.health = health;
  e.weight = weight;
  e.zone = std::move(zone);
  e.priority = priority;
  return e;
}

inline model::Cluster MakeCluster(std::string name, std::vector<model::Endpoint> endpoints = {}) {
  model::Cluster c;
  c.name = name;
  c.service = name;
  c.endpoints = std::move(endpoints);
  return c;
}

inline model::Route Forward(std::string prefix, std::vector<model::WeightedCluster> clusters) {
  model::Route r;
  r.match.path = std::move(prefix);
  r.action.clusters = std::move(clusters);
  return r;
}

// A shop: web (two zones, one sick instance), api (gRPC, a canary split 90/10 with api-canary),
// a TCP database, one gateway "edge" with an HTTP and a TCP listener, and routes for api.
inline model::World Shop() {
  model::World w;
  auto web = MakeCluster("web", {Ep("10.0.0.2", 8080, model::Health::kPassing, 1, "us-east-1a"),
                                 Ep("10.0.0.1", 8080, model::Health::kPassing, 2, "us-east-1a"),
                                 Ep("10.0.1.1", 8080, model::Health::kCritical, 1, "us-east-1b"),
                                 Ep("10.0.1.2", 8080, model::Health::kWarning, 3, "us-east-1b")});
  web.circuit_breakers.max_connections = 1000;
  web.circuit_breakers.max_requests = 500;
  web.outlier_detection = model::OutlierDetection{};
  web.lb_policy = model::LbPolicy::kLeastRequest;
  w.clusters["web"] = web;
  auto api = MakeCluster("api", {Ep("10.0.2.1", 9090)});
  api.protocol = model::Protocol::kGrpc;
  w.clusters["api"] = api;
  auto canary = MakeCluster("api-canary", {Ep("10.0.3.1", 9090)});
  canary.protocol = model::Protocol::kGrpc;
  w.clusters["api-canary"] = canary;
  w.clusters["db"] = MakeCluster("db", {Ep("10.0.4.1", 5432)});

  model::Listener http;
  http.name = "edge-http";
  http.port = 8080;
  model::VirtualHost vh;
  vh.name = "shop";
  vh.domains = {"shop.example.com", "www.shop.example.com"};
  model::Route api_route = Forward("/api/", {{"api", 90}, {"api-canary", 10}});
  api_route.name = "api";
  api_route.action.timeout = std::chrono::milliseconds(2500);
  api_route.action.retry = model::RetryPolicy{.num_retries = 3,
                                              .on_connect_failure = true,
                                              .on_status_codes = {503},
                                              .retry_on = {"reset"},
                                              .per_try_timeout = std::chrono::milliseconds(500)};
  api_route.action.prefix_rewrite = "/";
  api_route.match.headers.push_back({"x-tenant", {.kind = model::StringMatch::Kind::kPrefix, .value = "acme", .invert = false}});
  api_route.match.query.push_back({"debug", {.kind = model::StringMatch::Kind::kPresent, .value = "", .invert = false}});
  api_route.match.methods = {"GET", "POST"};
  vh.routes.push_back(api_route);
  model::Route old;
  old.match.path_kind = model::RouteMatch::PathKind::kExact;
  old.match.path = "/old";
  old.action.redirect = model::Redirect{.code = 308, .host = "new.example.com", .path = "/new", .scheme = "https"};
  vh.routes.push_back(old);
  vh.routes.push_back(Forward("/", {{"web", 1}}));
  http.virtual_hosts.push_back(vh);

  model::Listener tcp;
  tcp.name = "edge-db";
  tcp.port = 5432;
  tcp.protocol = model::Protocol::kTcp;
  tcp.tcp_cluster = "db";
  w.gateways["edge"] = model::Gateway{.name = "edge", .listeners = {tcp, http}, .origin = "test"};

  model::ServiceRoutes sr;
  sr.service = "api";
  model::Route by_method = Forward("/shop.Api/Checkout", {{"api-canary", 1}});
  by_method.match.path_kind = model::RouteMatch::PathKind::kExact;
  sr.routes = {by_method, Forward("/", {{"api", 1}})};
  w.service_routes["api"] = sr;
  return w;
}

template <typename T>
const T& As(const MessagePtr& m) {
  return *std::dynamic_pointer_cast<const T>(m);
}

template <typename T>
const T* Find(const std::vector<NamedMessage>& list, const std::string& name) {
  for (const auto& nm : list) {
    if (nm.name == name) return dynamic_cast<const T*>(nm.message.get());
  }
  return nullptr;
}

}  // namespace tern::translate::testing
