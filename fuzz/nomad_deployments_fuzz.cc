// Nomad's job, deployment, allocation and check answers and its event stream
// (src/sources/nomad/deployments.h, event_stream.h): one input is decoded as each answer, fed to
// the NDJSON stream parser in chunks whose sizes come from the input itself, and what decodes is
// planned into traffic (deployment_traffic.h). Nothing may crash, throw or hang; errors name the
// endpoint; the parser never keeps more than a line.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sources/nomad/decoders.h"
#include "sources/nomad/deployment_traffic.h"
#include "sources/nomad/deployments.h"
#include "sources/nomad/event_stream.h"

using namespace tern::sources::nomad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto named = [](const absl::Status& s, const char* endpoint) {
    FUZZ_CHECK(s.ok() || s.message().find(endpoint) != std::string::npos, "error does not name the endpoint");
  };
  JobDeploymentView view;
  auto job = DecodeJob(text, "/v1/job/web");
  named(job.status(), "/v1/job/web");
  if (job.ok()) view.job = *job;
  auto dep = DecodeJobDeployment(text, "/v1/job/web/deployment");
  named(dep.status(), "/v1/job/web/deployment");
  if (dep.ok()) view.deployment = *dep;
  auto allocs = DecodeAllocations(text, "/v1/job/web/allocations");
  named(allocs.status(), "/v1/job/web/allocations");
  if (allocs.ok()) view.allocations = *allocs;
  auto checks = DecodeAllocationChecks(text, "/v1/client/allocation/a/checks");
  named(checks.status(), "/v1/client/allocation/a/checks");
  if (checks.ok()) {
    for (const auto& a : view.allocations) view.checks[a.id] = *checks;
  }

  // The stream: the same bytes in chunks of 1..64 bytes chosen by the input's own bytes.
  EventStreamParser parser("/v1/event/stream", 4096);
  tern::fuzz::FuzzInput sizes(data, size);
  size_t at = 0;
  while (at < text.size()) {
    const size_t n = 1 + sizes.Below(64);
    auto frames = parser.Feed(std::string_view(text).substr(at, n));
    at += n;
    if (!frames.ok()) {
      named(frames.status(), "/v1/event/stream");
      parser.Reset();
      continue;
    }
    FUZZ_CHECK(parser.pending_bytes() <= 4096, "the parser keeps more than a line");
    for (const auto& f : *frames) {
      for (const auto& e : f.events) {
        if (e.allocation) view.allocations.push_back(*e.allocation);
        if (e.deployment && !view.deployment) view.deployment = *e.deployment;
      }
    }
  }
  (void)parser.Finish();

  std::vector<tern::model::Problem> problems;
  JobTraffic plan = PlanJobTraffic(view, {}, &problems);
  (void)DescribeJobTraffic(plan);
  tern::model::Cluster base;
  base.name = base.service = "web";
  for (const auto& a : view.allocations) {
    Registration r;
    r.id = "_nomad-task-" + a.id + "-web";
    r.service = "web";
    r.alloc_id = a.id;
    r.address = "127.0.0.1";
    r.port = 8080;
    base.endpoints.push_back(ToEndpoint(r));
  }
  auto traffic = ApplyTraffic(base, AllocTrafficIndex({plan}), "nomad service web");
  if (traffic.split) FUZZ_CHECK(traffic.split->weight <= 100, "a canary share above 100%");
  return 0;
}
