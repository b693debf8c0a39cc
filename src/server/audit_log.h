#pragma once
// The audit log: one hash-chained JSON line per published configuration change and per proxy
// event (connect, disconnect, ACK/NACK state changes), with Ed25519-signed checkpoints, rotation
// by size, an optional copy of every record to stdout or syslog. Line format and signatures:
// audit_chain.h; what `tern audit verify` checks: audit_verify.h; for operators:
// docs/operations.md, "Audit log".
//
// Records never contain resource contents or keys, so no secret can leak into them.
//
// Threads: configuration records are written synchronously on the reconciler thread, in
// BeforePublish, so that in fail-closed mode a change whose record cannot be written is not
// published. Proxy events arrive on gRPC threads and are only queued (bounded; what overflows is
// counted and itself recorded); one writer thread writes them. One mutex orders both into the
// chain. The file is opened for each write (O_APPEND), so a file replaced under tern (rotation by
// another tool, a repaired disk) is picked up at the next write.
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/audit_chain.h"
#include "server/reconciler.h"
#include "xds/observer.h"

namespace tern::server {

struct AuditLogOptions {
  std::string path;
  uint64_t max_file_bytes = 0;        // rotate when the file reaches this size; 0 = never
  std::string signing_key_file;       // Ed25519 private key (PEM); "" = no checkpoints
  uint64_t checkpoint_every = 1000;   // records between checkpoints (and one at rotation, one at Close)
  enum class CopyTo { kNone, kStdout, kSyslog };
  CopyTo copy_to = CopyTo::kNone;
  bool fail_closed = true;            // a config record that cannot be written vetoes publication
  size_t proxy_queue_limit = 10000;   // queued proxy events; more are dropped (and counted)
  // Called after every write attempt, with the record's kind ("config", "proxy_ack", ...,
  // "checkpoint") and whether it was written: the hook for tern_audit_records_total{kind} and
  // tern_audit_write_failures_total. Called with the log's lock held, on the reconciler or the
  // writer thread: it must be cheap and must not call back into the AuditLog.
  std::function<void(std::string_view kind, bool ok)> on_write;
};

class AuditLog : public ReconcilerObserver {
 public:
  // Resumes the chain of what is at `options.path` (or, if that file is empty or missing, of the
  // newest rotated file). A torn last line (a crash mid-write) is moved to a file beside the log
  // and replaced by a "recovery" record; a file that does not verify is refused.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(AuditLogOptions options);
  ~AuditLog() override;  // Close()

  // Writes the configuration record (if anything changed). Fail-closed: an error when it cannot.
  absl::Status BeforePublish(const BuiltSnapshots& snapshots, const std::vector<std::string>& reasons) override;

  // Queues a proxy event; never blocks on I/O.
  void RecordProxy(const xds::ProxyEvent& event);

  // Writes what is queued and a final checkpoint; stops the writer thread. Idempotent.
  void Close();

  // Waits until every proxy event queued so far is written or failed (tests, shutdown).
  void Drain();

  uint64_t dropped() const { return dropped_total_.load(); }
  uint64_t write_failures() const { return write_failures_.load(); }

 private:
  explicit AuditLog(AuditLogOptions options) : options_(std::move(options)) {}
  // The published snapshots by node cluster ("*" = the mesh): what the next record compares with.
  using Published = std::map<std::string, cache::SnapshotPtr>;
  static Published ByNodeCluster(const BuiltSnapshots& s);
  struct Queued {
    xds::ProxyEvent event;
    int64_t time_ms;
  };

  absl::Status Resume();
  void WriterLoop();
  // Appends one record whose kind-specific members are `fields` (an object's members, already
  // JSON text with a leading comma, or ""). Advances the chain only if the line was written.
  absl::Status WriteRecordLocked(std::string_view kind, int64_t time_ms, const std::string& fields)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendLocked(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckpointLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ProxyFields(const Queued& q) const;

  const AuditLogOptions options_;
  std::unique_ptr<audit::Signer> signer_;

  absl::Mutex mu_;  // the chain and the file
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::string prev_ ABSL_GUARDED_BY(mu_) = audit::kGenesis;
  uint64_t chain_start_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::string chain_start_hash_ ABSL_GUARDED_BY(mu_);
  uint64_t since_checkpoint_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t file_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_rotation_ ABSL_GUARDED_BY(mu_) = 1;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;  // the last write failed (log once per episode)
  Published last_ ABSL_GUARDED_BY(mu_);
  std::string recovery_fields_ ABSL_GUARDED_BY(mu_);  // a torn line was set aside at Open

  absl::Mutex queue_mu_;
  absl::CondVar queue_cv_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(queue_mu_);
  uint64_t dropped_unreported_ ABSL_GUARDED_BY(queue_mu_) = 0;
  uint64_t in_progress_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool closed_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread writer_;

  std::atomic<uint64_t> dropped_total_{0};
  std::atomic<uint64_t> write_failures_{0};
};

}  // namespace tern::server
