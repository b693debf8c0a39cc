#pragma once
// The state every watching source (Consul, Nomad) keeps between batches of answers: which
// endpoints are failing (each failure reported once, its last good data kept), and what to hand
// the core after a batch: a fragment only
// when the world it assembled differs from the last one it published (or a recovery asks for a
// re-publish), with the events that caused it as the reason; mapping problems only when they
// change, so that a bad entry is reported once, not on every answer.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/changes.h"
#include "model/model.h"
#include "sources/source.h"
#include "sources/source_status.h"

#include <spdlog/spdlog.h>

namespace tern::sources {

class FragmentGate {
 public:
  static constexpr size_t kMaxReasons = 8;

  // A watch at `endpoint` (named `origin` in messages) answered badly. Reported once per
  // endpoint and error; nothing is dropped, the endpoint's last good data stays.
  void Failed(const std::string& source, const std::string& endpoint, const std::string& origin,
              const std::string& error, SourceStatus& status) {
    errors_total++;
    status.last_error = origin + ": " + error;
    auto it = failing.find(endpoint);
    if (it != failing.end() && it->second == error) return;  // already said
    failing[endpoint] = error;
    spdlog::warn("source {}: {}: {} (keeping its last good data)", source, origin, error);
    pending_errors.push_back({origin, error});
  }

  // A part of the source (`subject`) works a slower way than configured, the data staying
  // current (the Nomad event stream replaced by blocking queries). Counted as an error of the
  // source and logged once per subject and reason, but not handed to the core: what is served is
  // not stale.
  void Degraded(const std::string& source, const std::string& subject, const std::string& why) {
    errors_total++;
    auto it = degraded.find(subject);
    if (it != degraded.end() && it->second == why) return;  // already said
    degraded[subject] = why;
    spdlog::warn("source {}: {}: {} (degraded; the data stays current)", source, subject, why);
  }
  // `subject` works as configured again.
  void Restored(const std::string& source, const std::string& subject) {
    if (degraded.erase(subject) > 0) spdlog::info("source {}: {} works again", source, subject);
  }

  // A watch answered well; `event` says what it brought. When the last failing endpoint
  // recovers, the next offer is published even if equal, so the core hears the source is healthy.
  void Succeeded(const std::string& source, const std::string& endpoint, const std::string& origin,
                 const std::string& event, SourceStatus& status) {
    if (failing.erase(endpoint) > 0) {
      spdlog::info("source {}: {} answers again", source, origin);
      if (failing.empty()) {
        status.last_error.clear();
        force = true;
      }
    }
    dirty = true;
    if (reasons.size() < kMaxReasons) reasons.push_back(event);
  }

  // Offers the world assembled now. Sets `fragment` and `reason` when it is to be published, and
  // `since` to what changed since the previously published fragment (when there was one);
  // appends mapping problems that are new to `errors`. `idle_reason` names a re-publish that no
  // event explains (the remote answers again after a failure).
  void Offer(std::shared_ptr<const model::World> world, std::vector<model::Problem> mapping, const char* idle_reason,
             SourceStatus& status, FragmentPtr* fragment, std::optional<model::WorldDelta>* since, std::string* reason,
             std::vector<model::Problem>* errors) {
    if (mapping != mapping_problems) {
      errors->insert(errors->end(), mapping.begin(), mapping.end());
      mapping_problems = std::move(mapping);
    }
    std::optional<model::WorldDelta> changes;
    if (published) changes = model::Diff(*published, *world);
    if (!changes || !changes->empty() || force) {
      *since = std::move(changes);
      Publish(std::move(world), idle_reason, status, fragment, reason);
    }
    Settle(status);
  }

  // Offers a world the source keeps up to date itself, with what changed since the previously
  // published one (`changes`, computed by the source in proportion to the change): no comparison
  // of whole worlds here. The first offer (nothing published yet) is published as a whole.
  void OfferChanges(std::shared_ptr<const model::World> world, model::WorldDelta changes,
                    std::vector<model::Problem> mapping, const char* idle_reason, SourceStatus& status,
                    FragmentPtr* fragment, std::optional<model::WorldDelta>* since, std::string* reason,
                    std::vector<model::Problem>* errors) {
    if (mapping != mapping_problems) {
      errors->insert(errors->end(), mapping.begin(), mapping.end());
      mapping_problems = std::move(mapping);
    }
    const bool first = !published && !incremental;
    if (first || !changes.empty() || force) {
      if (!first) *since = std::move(changes);
      Publish(std::move(world), idle_reason, status, fragment, reason);
    }
    // The source keeps its world and updates it in place once the core has let go of it: a
    // reference held here would force a copy per change.
    published.reset();
    incremental = true;
    Settle(status);
  }

  void Publish(std::shared_ptr<const model::World> world, const char* idle_reason, SourceStatus& status,
               FragmentPtr* fragment, std::string* reason) {
    *fragment = world;
    published = std::move(world);
    updates_total++;
    for (size_t i = 0; i < reasons.size(); ++i) *reason += (i ? ", " : "") + reasons[i];
    if (reason->empty()) *reason = idle_reason;
    status.synced = true;
    status.index++;
  }
  void Settle(SourceStatus& status) {
    status.last_sync = std::chrono::system_clock::now();
    dirty = false;
    force = false;
    reasons.clear();
  }

  std::vector<std::string> reasons;  // the events since the last offer, e.g. "consul health web index 42"
  bool dirty = false;               // something changed since the last offer
  bool force = false;  // publish even if equal (after a recovery)
  FragmentPtr published;
  bool incremental = false;  // published through OfferChanges (the source keeps the world)
  std::vector<model::Problem> mapping_problems;
  uint64_t updates_total = 0;
  std::map<std::string, std::string> failing;  // endpoint → error
  std::map<std::string, std::string> degraded;  // subject → why (see Degraded)
  std::vector<model::Problem> pending_errors;  // failures not yet handed to the core
  uint64_t errors_total = 0;
};

}  // namespace tern::sources
