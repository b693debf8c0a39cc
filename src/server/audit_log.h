#pragma once
// The audit log: one JSON line per published change, hash-chained so that editing, removing or
// reordering a line is detected by `tern audit verify`. Each record says what changed (node
// cluster, resource type, name, added/changed/removed, new version) and why (the source events
// that produced it). It never contains resource contents, so no secret can leak into it.
//
// Line format (keys in this order; "hash" last):
//   {"seq":N,"time":"...","reasons":[...],"changes":[...],"prev":"<hash of line N-1>","hash":"<h>"}
// where h = SHA-256 hex of the line's text up to (not including) the ,"hash" member, i.e. of
// everything between the first '{' and the ',"hash":' marker, prefixed by nothing else.
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/reconciler.h"

namespace tern::server {

class AuditLog : public ReconcilerObserver {
 public:
  // Opens (appends to) `path`, continuing the chain of what is already there.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);

  void OnPublished(const BuiltSnapshots& snapshots, const std::vector<std::string>& reasons) override;

  // Checks a whole file; on failure the message names the first bad line (1-based).
  static absl::Status Verify(const std::string& path, size_t* records = nullptr);

 private:
  AuditLog() = default;
  using Versions = std::map<std::string, std::string>;  // "node_cluster\ttype\tname" → version
  static Versions Flatten(const BuiltSnapshots& s);

  std::mutex mu_;
  std::ofstream out_;
  std::string path_;
  uint64_t seq_ = 0;
  std::string prev_ = "genesis";
  Versions last_;
  bool have_last_ = false;
};

}  // namespace tern::server
