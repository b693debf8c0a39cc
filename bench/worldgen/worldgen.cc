#include "worldgen.h"

#include <cstdio>

namespace tern::bench {

std::string ServiceName(uint32_t s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "svc-%06u", s);
  return buf;
}

std::string GatewayName(uint32_t g) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "gw-%04u", g);
  return buf;
}

uint32_t FlipService(const WorldSpec& spec, uint32_t k) {
  uint32_t n = spec.exposed < spec.services ? spec.exposed : spec.services;
  return n == 0 ? 0 : k % n;
}

std::string ServicesYaml(const WorldSpec& spec, int64_t critical_service) {
  std::string out;
  out.reserve(size_t{spec.services} * (40 + spec.instances * 48) + size_t{spec.gateways} * spec.exposed * 64);
  out += "services:\n";
  char buf[160];
  for (uint32_t s = 0; s < spec.services; ++s) {
    out += "  - name: " + ServiceName(s) + "\n    endpoints:\n";
    for (uint32_t i = 0; i < spec.instances; ++i) {
      bool critical = static_cast<int64_t>(s) == critical_service && i == 0;
      std::snprintf(buf, sizeof buf, "      - { address: 10.%u.%u.%u, port: %u%s }\n", 10 + (s >> 16), (s >> 8) & 255,
                    s & 255, 8000 + i, critical ? ", health: critical" : "");
      out += buf;
    }
  }
  if (spec.gateways == 0) return out;
  out += "gateways:\n";
  uint32_t k = spec.exposed < spec.services ? spec.exposed : spec.services;
  for (uint32_t g = 0; g < spec.gateways; ++g) {
    out += "  - name: " + GatewayName(g) + "\n";
    out += "    listeners:\n      - name: http\n        port: 8080\n        virtual_hosts:\n";
    out += "          - name: all\n            domains: [\"*\"]\n            routes:\n";
    for (uint32_t j = 0; j < k; ++j) {
      std::string svc = ServiceName((uint64_t{g} * spec.stride + j) % spec.services);
      out += "              - { match: { prefix: /" + svc + "/ }, service: " + svc + " }\n";
    }
  }
  return out;
}

}  // namespace tern::bench
