#pragma once
// model::World → validated, consistent snapshots for every node cluster. The one code path used
// by `tern serve`, `tern render` and `tern validate`.
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/snapshot.h"
#include "model/changes.h"
#include "model/model.h"
#include "translate/translator.h"

namespace tern::server {

struct BuiltSnapshots {
  std::map<std::string, cache::SnapshotPtr> gateways;  // node cluster = gateway name
  cache::SnapshotPtr mesh;  // every other node cluster (proxyless gRPC clients)
  // Set by the reconciler: seconds spent merging, translating and checking this set (including
  // trial builds that isolated a rejected source), for tern_snapshot_build_seconds.
  double build_seconds = 0;
};

// What one build did, to show that a change costs what it changes (tests, benchmarks, metrics).
struct BuildStats {
  bool full = false;           // built from scratch
  size_t validated = 0;        // model elements whose checks ran
  size_t translated = 0;       // Envoy messages built
  size_t serialized = 0;       // messages serialized (new message objects)
  size_t checked = 0;          // resources checked against Envoy's rules (new bytes)
  size_t snapshots_built = 0;  // snapshots assembled from scratch
  size_t snapshots_derived = 0;  // snapshots derived from their predecessor
};

// Builds snapshots incrementally. Each call names what changed since the previous call's world;
// only the elements named and those that read them are validated and translated, only new
// messages are serialized and checked against Envoy's rules, and each snapshot is derived from
// its predecessor by the resources that changed in it (cache::Snapshot::Derive). The result is
// byte-identical to a from-scratch build of the same world (tested). Not thread-safe: one
// reconciler thread owns it.
class SnapshotBuilder {
 public:
  // From scratch. Every problem (world validation, Envoy validation rules, inconsistency) goes to
  // `problems`; on any problem nothing is returned and the caller keeps what it had.
  std::optional<BuiltSnapshots> Build(const model::World& world, std::vector<model::Problem>* problems) {
    return Build(world, model::ChangeSet::Everything(), problems);
  }
  // `changes` names every element of `world` that differs from the world of the previous call
  // (successful or not). After a failed call, the next one also re-examines what the failed one
  // named, so a rejected change leaves nothing behind.
  std::optional<BuiltSnapshots> Build(const model::World& world, const model::ChangeSet& changes,
                                      std::vector<model::Problem>* problems);
  const BuildStats& last_stats() const { return stats_; }

 private:
  // A resource and the message it was made from: the same message object next time means the
  // same resource, with no serialization at all.
  struct Interned {
    translate::MessagePtr message;
    cache::ResourcePtr resource;
  };
  // `scope`: the gateway whose listeners and routes these are ("" for everything shared): two
  // gateways may name a listener alike (Consul names ingress listeners "<protocol>_<port>") and
  // each must get its own.
  cache::ResourcePtr Intern(ResourceType type, const std::string& scope, const std::string& name,
                            const translate::MessagePtr& msg, bool wildcard, std::vector<model::Problem>* problems,
                            const std::vector<std::string>& domains = {});
  void Forget(ResourceType type, const std::string& scope, const std::string& name, bool wildcard);
  // The resources of `g`, interned, by type.
  std::array<std::vector<cache::ResourcePtr>, kNumResourceTypes> Collect(const std::string& node_cluster,
                                                                         const translate::GatewayResources& g,
                                                                         bool wildcard,
                                                                         std::vector<model::Problem>* problems);
  cache::SnapshotPtr BuildGateway(const std::string& node_cluster, const translate::GatewayResources& g,
                                  bool wildcard, std::vector<model::Problem>* problems);
  // A gateway whose translation changed, as `previous` with the resources that differ (so that its
  // snapshot records what changed: one virtual host of thousands, say). O(gateway) to compare.
  cache::SnapshotPtr RederiveGateway(const cache::Snapshot& previous, const translate::GatewayResources& g,
                                     std::vector<model::Problem>* problems);

  translate::IncrementalTranslator translator_;
  model::DependencyIndex index_;
  // By type, then wildcard (1) or named-only (0), then scope + '\0' + name.
  std::array<std::array<std::map<std::string, Interned>, 2>, kNumResourceTypes> interned_;
  std::map<std::string, cache::SnapshotPtr> gateways_;  // of the last successful build
  cache::SnapshotPtr mesh_;
  std::optional<model::ChangeSet> unsettled_;  // what a failed call named; nullopt after success
  BuildStats stats_;
};

// Deterministic serialization (maps in a stable order), so that versions are content hashes.
std::string SerializeDeterministic(const google::protobuf::Message& msg);

}  // namespace tern::server
