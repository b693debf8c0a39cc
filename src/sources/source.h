#pragma once
// A source watches one origin of truth (a YAML file set, Consul, Nomad) and tells the core what
// changed: either a delta (the new value of each element it touched, the preferred form: the core
// then costs what changed) or a complete fragment (simple whole-file sources: the core compares it
// with what the source contributed before). Sources never block the core: watching happens on the
// source's own thread(s); the sink is called with complete, decoded values only.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/changes.h"
#include "model/model.h"

namespace tern::sources {

using FragmentPtr = std::shared_ptr<const model::World>;

class UpdateSink {
 public:
  virtual ~UpdateSink() = default;
  // A new complete fragment from `source`; `reason` says which event produced it (for the audit
  // log and debug output), e.g. "file services.yaml changed".
  virtual void OnUpdate(const std::string& source, FragmentPtr fragment, std::string reason) = 0;
  // What changed in `source`'s contribution since its previous update or delta: each touched
  // element's new value, or its removal. An element of another source is not the source's to
  // change: defining a name another source defines is a problem that rejects the update.
  virtual void OnDelta(const std::string& source, model::WorldDelta delta, std::string reason) = 0;
  // A complete fragment together with what changed since the source's previous fragment. The
  // core uses `since_previous` instead of comparing the whole fragment when it holds exactly that
  // previous fragment (it accepted it); otherwise (a rejected update in between) it compares.
  virtual void OnUpdateWithChanges(const std::string& source, FragmentPtr fragment, model::WorldDelta since_previous,
                                   std::string reason) {
    (void)since_previous;
    OnUpdate(source, std::move(fragment), std::move(reason));
  }
  // The source could not produce a fragment (unreachable, malformed input). The core keeps the
  // source's last good fragment. `problems` name what was wrong and where.
  virtual void OnError(const std::string& source, std::vector<model::Problem> problems) = 0;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual const std::string& name() const = 0;
  // Reads everything once, synchronously (render, validate, and the first sync of serve).
  // On bad input: every problem, each naming its location.
  virtual absl::StatusOr<FragmentPtr> SyncOnce(std::vector<model::Problem>* problems) = 0;
  // Watches for changes in the background; calls `sink` on every change or failure.
  virtual void Start(UpdateSink& sink) = 0;
  virtual void Stop() = 0;
};

}  // namespace tern::sources
