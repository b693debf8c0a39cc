// Nomad's HTTP answers (src/sources/nomad/decoders.h): one input is decoded as the service list
// and as a service's registrations, and what decodes is mapped to the model (BuildWorld, canary
// tags on). Nothing may crash, throw or hang; errors name the endpoint.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sources/nomad/decoders.h"

using namespace tern::sources::nomad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  NomadView view;
  view.canary.tag = "canary";
  auto list = DecodeServiceList(text, "/v1/services");
  if (list.ok()) {
    view.services = *list;
  } else {
    FUZZ_CHECK(list.status().message().find("/v1/services") != std::string::npos, "error does not name the endpoint");
  }
  auto regs = DecodeRegistrations(text, "/v1/service/web");
  if (regs.ok()) {
    for (const auto& r : *regs) {
      (void)ToEndpoint(r);
      ServiceKey key{r.namespace_name, r.service};
      view.services[key];
      view.registrations[key].push_back(r);
      (void)ServicePath(key, "");
      (void)ClusterName(key);
    }
  } else {
    FUZZ_CHECK(regs.status().message().find("/v1/service/web") != std::string::npos, "error does not name the endpoint");
  }
  std::vector<tern::model::Problem> problems;
  (void)BuildWorld(view, &problems);
  return 0;
}
