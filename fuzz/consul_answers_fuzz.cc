// Consul's HTTP answers (src/sources/consul/decoders.h, connect_ca.h): one input is fed to every
// decoder, as if each endpoint had answered it, and what decodes is mapped to the model the way
// ConsulSource does (BuildWorld, with Fabio and canary tags on). Nothing may crash, throw or
// hang; a decoder either returns a value or an error naming the endpoint.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sources/consul/connect_ca.h"
#include "sources/consul/decoders.h"
#include "sources/consul/mapper.h"

using namespace tern::sources::consul;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<tern::model::Problem> problems;
  ConsulView view;

  auto check_error = [](const absl::Status& st, const std::string& endpoint) {
    FUZZ_CHECK(st.message().find(endpoint) != std::string::npos, "error does not name the endpoint: " + std::string(st.message()));
  };

  if (auto services = DecodeCatalogServices(text, "/v1/catalog/services"); services.ok()) {
    view.services = *services;
  } else {
    check_error(services.status(), "/v1/catalog/services");
  }
  if (auto instances = DecodeHealthService(text, "/v1/health/service/web"); instances.ok()) {
    for (const auto& i : *instances) {
      (void)ToEndpoint(i);
      view.health[ServiceHealthPath(i.service)].push_back(i);
      view.services[i.service];
    }
  } else {
    check_error(instances.status(), "/v1/health/service/web");
  }
  // The aggregate watch's answer: decoding is deterministic (the same bytes give the same
  // fingerprints: otherwise a service would be re-read on every answer).
  if (auto state = DecodeHealthState(text, "/v1/health/state/any"); state.ok()) {
    auto again = DecodeHealthState(text, "/v1/health/state/any");
    FUZZ_CHECK(again.ok() && *again == *state, "health state fingerprints differ for the same bytes");
  } else {
    check_error(state.status(), "/v1/health/state/any");
  }
  if (auto chain = DecodeDiscoveryChain(text, "/v1/discovery-chain/web"); chain.ok()) {
    for (const auto& path : HealthPaths(*chain)) view.health[path];
    (void)ChainRoutes(*chain);
    (void)DefaultTarget(*chain);
    (void)PlainChain(*chain);
    view.services[chain->service];
    view.chains[chain->service] = *chain;
  } else {
    check_error(chain.status(), "/v1/discovery-chain/web");
  }
  if (auto ingress = DecodeIngressGateways(text, "/v1/config/ingress-gateway", &problems); ingress.ok()) {
    view.ingress = *ingress;
  }
  if (auto defaults = DecodeServiceDefaults(text, "/v1/config/service-defaults", &problems); defaults.ok()) {
    for (const auto& d : *defaults) view.defaults[d.name] = d;
  }
  for (const char* kind : {"service-router", "service-splitter", "service-resolver"}) {
    (void)DecodeChainEntries(kind, text, std::string("/v1/config/") + kind, &problems);
  }
  if (auto roots = DecodeConnectRoots(text, kConnectRootsPath); roots.ok()) {
    (void)roots->TrustedCaPem();
    (void)roots->ActiveIntermediates();
    view.roots = *roots;
  }
  if (auto leaf = DecodeConnectLeaf(text, ConnectLeafPath("web")); leaf.ok()) {
    // The private key never appears in an error or problem (checked below).
    view.leaves[leaf->service] = *leaf;
  } else {
    FUZZ_CHECK(text.find("PRIVATE KEY") == std::string::npos ||
                   std::string(leaf.status().message()).find("PRIVATE KEY-----\n") == std::string::npos,
               "a leaf error quotes the private key");
  }
  (void)ParseGoDuration(text);
  (void)ParseRfc3339(text);

  TagRouting tags;
  tags.fabio.gateways = {"edge"};
  tags.canary.tag = "canary";
  (void)BuildWorld(view, &problems, tags);
  return 0;
}
