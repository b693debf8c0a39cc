#pragma once
// What a watching source (Consul, Nomad) hands the core after a batch of answers: a fragment only
// when the world it assembled differs from the last one it published (or a recovery asks for a
// re-publish), with the events that caused it as the reason; mapping problems only when they
// change, so that a bad entry is reported once, not on every answer.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "sources/source.h"
#include "sources/source_status.h"

namespace tern::sources {

class FragmentGate {
 public:
  // Offers the world assembled now. Sets `fragment` and `reason` when it is to be published;
  // appends mapping problems that are new to `errors`. `idle_reason` names a re-publish that no
  // event explains (the remote answers again after a failure).
  void Offer(std::shared_ptr<const model::World> world, std::vector<model::Problem> mapping, const char* idle_reason,
             SourceStatus& status, FragmentPtr* fragment, std::string* reason, std::vector<model::Problem>* errors) {
    if (mapping != mapping_problems) {
      errors->insert(errors->end(), mapping.begin(), mapping.end());
      mapping_problems = std::move(mapping);
    }
    if (!published || !(*published == *world) || force) {
      *fragment = world;
      published = std::move(world);
      updates_total++;
      for (size_t i = 0; i < reasons.size(); ++i) *reason += (i ? ", " : "") + reasons[i];
      if (reason->empty()) *reason = idle_reason;
      status.synced = true;
      status.index++;
    }
    status.last_sync = std::chrono::system_clock::now();
    dirty = false;
    force = false;
    reasons.clear();
  }

  std::vector<std::string> reasons;  // the events since the last offer, e.g. "consul health web index 42"
  bool dirty = false;               // something changed since the last offer
  bool force = false;  // publish even if equal (after a recovery)
  FragmentPtr published;
  std::vector<model::Problem> mapping_problems;
  uint64_t updates_total = 0;
};

}  // namespace tern::sources
