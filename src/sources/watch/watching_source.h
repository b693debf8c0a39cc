#pragma once
// The watching core shared by the Consul and Nomad sources: everything about watching a remote
// catalog over blocking queries that is not about what the catalog says.
//
//   * the ACL token, read from a file or an environment variable (never logged);
//   * one BlockingClient (one thread, every watch multiplexed on it) and its life cycle;
//   * failure bookkeeping through FragmentGate: each failing endpoint reported once per distinct
//     error, its last good data kept, recovery noticed;
//   * once per batch of answers: ask the concrete source for what it has now (a whole fragment, or
//     its current world together with what changed since the last one it published) and hand it
//     to the core, with the events of the batch as the reason;
//   * status for /debug/sources and /readyz, and the tern_<kind>_* metrics through prometheus-cpp.
//
// A concrete source describes its endpoints and decoders: it sets up its watches in StartWatches,
// decodes answers in its own callbacks (calling Failed/Succeeded), and assembles its world in
// Assemble. Everything a subclass touches from callbacks is guarded by mu_.
//
// A subclass's destructor must call Stop() first: the client thread calls back into it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sources/fragment_gate.h"
#include "sources/http/blocking_client.h"
#include "sources/source.h"
#include "sources/source_status.h"

namespace tern::sources {

// Reads an ACL token: from `file` if set, else from the environment variable `env` if set, else
// none. Trailing newlines and spaces are dropped. `error` names the file or variable (never the
// token) when it cannot be read; `what` is the remote's name ("Consul").
struct Token {
  std::string value;
  std::string error;
};
Token LoadToken(const std::string& file, const std::string& env, const std::string& what);

class WatchingSource : public Source, public StatusReporter, public MetricsReporter {
 public:
  struct Settings {
    std::string kind;     // "consul", "nomad": metric names tern_<kind>_* and message origins
    std::string remote;   // "Consul", "Nomad": in messages
    std::string token_file;
    std::string token_env;
    http::ClientOptions client;  // its token is filled in from token_file / token_env
    // The gauge of the index the source reports as its own (e.g. "catalog_index") and its help.
    std::string index_metric;
    std::string index_help;
    // Where the tern_<kind>_* series live: serve passes its registry (one exposition for all of
    // tern); none = a registry of the source's own (render, validate, tests).
    std::shared_ptr<prometheus::Registry> registry;
    // The remote says when it answers without a cluster leader (Consul's X-Consul-KnownLeader):
    // such answers are counted in tern_<kind>_leaderless_answers_total.
    bool reports_leader = false;
    // Parts of the source can work a slower way than configured (the Nomad event stream):
    // tern_<kind>_degraded counts them.
    bool reports_degraded = false;
  };

  WatchingSource(std::string name, Settings settings);
  ~WatchingSource() override;
  WatchingSource(const WatchingSource&) = delete;
  WatchingSource& operator=(const WatchingSource&) = delete;

  const std::string& name() const override { return name_; }
  void Start(UpdateSink& sink) final;
  void Stop() override;
  SourceStatus status() const override;
  // Brings the scrape-time series up to date; with a registry of its own, also renders them.
  std::string MetricsText() const override;

  uint64_t requests_total() const { return client_->total_requests(); }

 protected:
  // What a batch produces: a whole fragment (FragmentGate compares it with the last published
  // one), or the source's world kept up to date in place together with what changed since the
  // last publication (the source did the comparison itself, in proportion to the change).
  struct Assembly {
    std::shared_ptr<const model::World> world;
    std::optional<model::WorldDelta> since_published;  // engaged: `world` is incremental
    std::vector<model::Problem> mapping;               // what could not be mapped, by element
  };

  // Under mu_, once from Start: set up the watches (the seeds of SyncOnce are still in place).
  virtual void StartWatches() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Under mu_, at every batch: chores (refreshes, sweeps) before deciding to publish.
  virtual void BeforeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  // Under mu_: everything a fragment needs has been read once (a fragment without it would
  // withdraw elements that are really there).
  virtual bool Complete() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Under mu_: the world as of now.
  virtual Assembly Assemble() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Under mu_: adds what the concrete source has to say to its status (SourceStatus::details).
  virtual void AddStatus(SourceStatus& /*status*/) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  // The index shown as the source's (status and the index gauge): 0 = none yet.
  virtual uint64_t ReportedIndex() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  // Failure bookkeeping (FragmentGate), under mu_.
  void Failed(const std::string& endpoint, const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Succeeded(const std::string& endpoint, const std::string& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Degraded(const std::string& subject, const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    gate_.Degraded(name_, subject, why);
  }
  void Restored(const std::string& subject) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { gate_.Restored(name_, subject); }
  std::string Origin(const std::string& endpoint) const { return settings_.kind + " " + endpoint; }

  // SyncOnce helpers. TokenProblem: the token could not be read (a problem is added). SyncDone:
  // records a successful synchronous read and, before watching starts, what was published so
  // that the first answers of the watches change nothing.
  bool TokenProblem(std::vector<model::Problem>* problems) const;
  void SyncDone(FragmentPtr published, std::vector<model::Problem> mapping) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  bool Watching() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sink_ != nullptr; }
  http::BlockingClient& client() const { return *client_; }

  mutable absl::Mutex mu_;
  FragmentGate gate_ ABSL_GUARDED_BY(mu_);

 private:
  void OnBatch();

  const std::string name_;
  const Settings settings_;
  std::string token_error_;
  std::unique_ptr<http::BlockingClient> client_;
  UpdateSink* sink_ ABSL_GUARDED_BY(mu_) = nullptr;
  SourceStatus status_ ABSL_GUARDED_BY(mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  bool own_registry_ = false;
  prometheus::Counter* requests_ = nullptr;
  prometheus::Counter* errors_ = nullptr;
  prometheus::Counter* updates_ = nullptr;
  prometheus::Counter* leaderless_ = nullptr;
  prometheus::Gauge* watches_ = nullptr;
  prometheus::Gauge* failing_ = nullptr;
  prometheus::Gauge* degraded_ = nullptr;
  prometheus::Gauge* index_ = nullptr;
};

}  // namespace tern::sources
