#pragma once
// model::World → validated, consistent snapshots for every node cluster. The one code path used
// by `tern serve`, `tern render` and `tern validate`.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cache/snapshot.h"
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

// Builds snapshots. Resources whose bytes did not change since the last build are reused (same
// shared object, no re-hashing). Not thread-safe: one reconciler thread owns it.
class SnapshotBuilder {
 public:
  // Every problem (world validation, Envoy validation rules, inconsistency) goes to `problems`;
  // on any problem nothing is returned and the caller keeps what it had.
  std::optional<BuiltSnapshots> Build(const model::World& world, std::vector<model::Problem>* problems);

 private:
  // A resource and the message it was made from: the same message object next time means the
  // same resource, with no serialization at all.
  struct Interned {
    translate::MessagePtr message;
    cache::ResourcePtr resource;
  };
  cache::ResourcePtr Intern(ResourceType type, const std::string& name, const translate::MessagePtr& msg,
                            bool wildcard, std::map<std::string, Interned>& next,
                            std::vector<model::Problem>* problems);
  translate::IncrementalTranslator translator_;
  std::map<std::string, Interned> previous_;  // key: type/name/wildcard
};

// Deterministic serialization (maps in a stable order), so that versions are content hashes.
std::string SerializeDeterministic(const google::protobuf::Message& msg);

}  // namespace tern::server
