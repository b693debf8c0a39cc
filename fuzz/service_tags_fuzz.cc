// Fabio `urlprefix-` tags and Nomad canary tags (src/sources/tags/): each input line is a tag.
// Lines are parsed one by one, then spread over the instances of two services and turned into
// routes (BuildFabioRoutes) and canary splits (Canary, the last line also being the canary
// weight metadata). Invariants: a parsed weight is in (0, 1]; a canary split's weight is a percent;
// nothing throws (std::stoul on a tag would).
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sources/tags/canary.h"
#include "sources/tags/fabio.h"

using namespace tern;
using namespace tern::sources::tags;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto lines = fuzz::SplitAll(text, "\n");
  if (lines.size() > 64) return 0;  // a service has a handful of tags; keeps runs fast
  for (const auto& tag : lines) {
    if (!IsFabioTag(tag)) continue;
    auto r = ParseFabioTag(tag);
    if (!r.ok()) continue;
    if (r->weight) FUZZ_CHECK(*r->weight > 0 && *r->weight <= 1, "weight out of (0, 1]: " + tag);
    (void)r->Rewrite();
  }

  std::vector<TaggedService> services(2);
  for (size_t s = 0; s < services.size(); ++s) {
    services[s].name = s == 0 ? "web" : "api";
    services[s].origin = "fuzz service " + services[s].name;
    for (uint32_t i = 0; i < 3; ++i) {
      model::Endpoint ep;
      ep.id = services[s].name + "-" + std::to_string(i);
      ep.address = "10.0.0." + std::to_string(i + 1);
      ep.port = 8080 + i;
      for (size_t k = 0; k < lines.size(); ++k) {
        if ((k + i + s) % 3 != 0) ep.tags.push_back(lines[k]);
      }
      if (i == 0) ep.tags.push_back("canary");
      if (i == 0 && !lines.empty()) ep.metadata[kCanaryWeightMeta] = lines.back();
      services[s].endpoints.push_back(std::move(ep));
    }
  }
  std::vector<model::Problem> problems;
  FabioOptions options;
  options.gateways = {"edge"};
  (void)BuildFabioRoutes(services, options, &problems);

  model::Cluster base;
  base.name = "web";
  base.service = "web";
  base.endpoints = services[0].endpoints;
  auto canary = Canary(base, {.tag = "canary", .weight = 10}, "fuzz service web", &problems);
  if (canary) FUZZ_CHECK(canary->weight <= 100, "canary weight above 100%");
  return 0;
}
