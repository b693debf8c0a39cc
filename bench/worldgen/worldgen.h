#pragma once
// A synthetic services.yaml world for benchmarks: S services × I instances, G gateways each
// exposing K services on one HTTP listener (one route per service). Written as YAML so that
// tern reads it through its real file source.
//
// Gateway g exposes services (g * stride + j) mod S for j in [0, K): stride 0 makes every
// gateway expose the same K services (so a change in one of them reaches every stream);
// stride K spreads the gateways over disjoint services.
#include <cstdint>
#include <string>

namespace tern::bench {

struct WorldSpec {
  uint32_t services = 1000;
  uint32_t instances = 10;
  uint32_t gateways = 10;
  uint32_t exposed = 100;  // K: services per gateway
  uint32_t stride = 0;
};

std::string ServiceName(uint32_t s);
std::string GatewayName(uint32_t g);

// The services.yaml text. `critical_service` >= 0: instance 0 of that service is `critical`
// (one instance health flip relative to the base world).
std::string ServicesYaml(const WorldSpec& spec, int64_t critical_service = -1);

// The service whose instance change number `k` flips: one exposed by gateway 0 (and, with
// stride 0, by every gateway).
uint32_t FlipService(const WorldSpec& spec, uint32_t k);

}  // namespace tern::bench
