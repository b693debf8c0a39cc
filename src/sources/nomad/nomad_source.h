#pragma once
// The Nomad source: Nomad native service discovery (services with provider = "nomad"), watched
// with blocking queries and turned into one model::World fragment of clusters (see decoders.h for
// the mapping, docs/nomad.md for the whole story).
//
// Watches, all multiplexed on one BlockingClient thread (index header X-Nomad-Index, token
// header X-Nomad-Token):
//   /v1/services?namespace=NS           which services exist: per-service watches start and stop
//                                       with it
//   /v1/service/<name>?namespace=NS     per service: its registrations (one per allocation)
//
// Failure behaviour is the Consul source's: a good answer replaces that endpoint's last good
// data; a bad one (Nomad unreachable, 403, 5xx, malformed JSON) is reported once per endpoint and
// distinct error through sink.OnError naming the endpoint, and changes nothing (a malformed 2xx
// answer is rejected back to the client, so it is retried with backoff like a failed request and
// a good answer after it is noticed even at the same index). Only a successful
// list that no longer names a service removes it. Nothing is published before the list has been
// read once; a service joins the fragment once its registrations have been read. After each batch
// of answers the fragment is rebuilt and handed on if it changed.
//
// Deployment-aware traffic (docs/nomad.md, "Deployments, checks and the event stream"): for every
// job some registration names (JobID, Namespace), three more blocking watches
//   /v1/job/<id>, /v1/job/<id>/deployment, /v1/job/<id>/allocations
// start and stop with the jobs seen in registrations, and for each running allocation of such a
// job its Nomad check results, /v1/client/allocation/<id>/checks (no blocking query there: read
// when the allocation appears, then every Options::checks_period). Each job's traffic plan
// (deployment_traffic.h) drops excluded allocations' registrations and splits canaries from the
// rest. The fragment waits until every watched job's three watches have answered once, well or
// not (check reads are not waited for: they go through client nodes): a job whose data cannot be read is reported and its allocations are
// all stable (as without deployment awareness), never withheld.
//
// The event stream (Options::event_stream, on by default; docs/nomad.md): Nomad's
// /v1/event/stream (topics Service, Deployment, Allocation, Job) is a trigger, never the source
// of truth. Its states:
//
//   connecting ──first frame or heartbeat──▶ live ──any end (refused, 403, 404, cut, idle,
//       ▲                                     ▲      undecodable line, index backwards)──┐
//       │                                     └────first frame or heartbeat──┐           ▼
//       └──────────────────────────── (the client restarts it with backoff) ── falling back
//
//   * live: the per-service and per-job watches are on demand (no held connection); each event
//     triggers the reads it concerns (a Service event: that service's registrations; a
//     Deployment or Allocation event: that job's deployment and allocations; a Job event: the
//     job), so state always comes from Nomad's authoritative reads. The list stays a blocking
//     query (one connection): new and gone services come from it as before.
//   * connecting / falling back: every watch is a blocking query (as with the stream off); on a
//     fall back they are started anew, so their first read is a plain read and nothing that
//     happened meanwhile is lost. The fall back is reported once as a degraded state (Degraded:
//     a log line, a count, /debug/sources `degraded` with the reason; not a failure, since the
//     blocking queries keep the data current) and cleared when the stream is live again.
//   * going live (again) turns the watches into on-demand ones and reads every path once (a
//     resync: events between the fall back and the reconnection are not replayed for sure).
// Each (re)connection asks from the last frame index seen + 1 (before any frame: the list's
// X-Nomad-Index + 1, so that old buffered events are not replayed).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sources/nomad/decoders.h"
#include "sources/nomad/deployment_traffic.h"
#include "sources/nomad/deployments.h"
#include "sources/nomad/event_stream.h"
#include "sources/watch/watching_source.h"

namespace tern::sources {

class NomadSource : public WatchingSource {
 public:
  struct Options {
    std::string address = "http://127.0.0.1:4646";
    std::string token_file;      // the ACL token is read from this file ...
    std::string token_env;       // ... or this environment variable; never logged
    std::string namespace_name;  // "" = Nomad's default namespace; "*" = every namespace
    std::string region;          // "" = the agent's own
    // TLS to Nomad (https:// addresses): CA, client certificate and key, name to verify.
    struct Tls {
      std::string ca_file;
      std::string cert_file;
      std::string key_file;
      std::string server_name;
    } tls;
    tags::CanaryOptions canary;  // no tag = canaries off
    std::chrono::milliseconds wait{std::chrono::seconds(60)};
    std::chrono::milliseconds backoff_min{50};
    std::chrono::milliseconds backoff_max{1000};  // back within a second of Nomad
    // How often each running allocation's Nomad check results are read (they have no blocking
    // query); also the poll period of any answer that comes without X-Nomad-Index.
    std::chrono::milliseconds checks_period{std::chrono::seconds(2)};
    // Nomad's event stream as a trigger (see above); false = blocking queries only.
    bool event_stream = true;
    // A stream Nomad refuses (403, 404) or that keeps failing is asked for again at most this
    // often (its backoff starts at backoff_min).
    std::chrono::milliseconds stream_backoff_max{std::chrono::seconds(5)};
    // No byte (event or heartbeat; Nomad sends one every 10 s) for this long ends the stream.
    std::chrono::milliseconds stream_idle_timeout{std::chrono::seconds(25)};
    std::shared_ptr<prometheus::Registry> registry;  // tern_nomad_* series (none: a registry of its own)
  };

  NomadSource(std::string name, Options options);
  ~NomadSource() override;

  absl::StatusOr<FragmentPtr> SyncOnce(std::vector<model::Problem>* problems) override;

 private:
  struct ServiceState {
    http::WatchId watch = 0;
    std::optional<std::vector<nomad::Registration>> registrations;  // last good answer
  };

  // A job some registration names.
  struct JobKey {
    std::string namespace_name;
    std::string id;
    auto operator<=>(const JobKey&) const = default;
  };
  // One watched path's last good answer and whether it has answered at all (well or not).
  template <typename T>
  struct Watched {
    http::WatchId watch = 0;
    std::optional<T> value;
    bool answered = false;
  };
  struct JobState {
    Watched<nomad::Job> job;
    Watched<std::optional<nomad::Deployment>> deployment;
    Watched<std::vector<nomad::Allocation>> allocations;
    std::map<std::string, Watched<std::vector<nomad::CheckResult>>> checks;  // by running allocation
    // Nomad answered 404 for the job (registrations that outlive their job, or services
    // registered by something else than a job): not watched, all its allocations stable, asked
    // again when a registration naming it changes.
    bool missing = false;
  };

  enum class StreamState { kOff, kConnecting, kLive, kFallingBack };

  void StartWatches() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BeforeBatch() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Complete() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddStatus(SourceStatus& status) const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Assembly Assemble() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t ReportedIndex() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return list_index_; }

  // Watches `path`: a blocking query, or (stream live) an on-demand read triggered now.
  http::WatchId WatchPath(const std::string& path, http::WatchCallback callback) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WatchService(const nomad::ServiceKey& key, ServiceState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WatchJob(const JobKey& key, JobState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts every service and job watch anew in the current mode (the list's too on a fall back).
  void RestartWatches() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The event stream (client thread).
  std::string StreamPath();
  void OnStreamOpen(long status);
  bool OnStreamBytes(std::string_view bytes);
  void OnStreamEnd(const http::Response& r);
  void GoLive(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FallBack(const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TriggerFor(const nomad::Event& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TriggerJob(const JobKey& key, bool job, bool deployment, bool allocations) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Live() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stream_state_ == StreamState::kLive; }

  void OnList(const http::Response& r);
  void OnService(const nomad::ServiceKey& key, const http::Response& r);
  // Applies a successful list: starts and stops per-service watches.
  void SetServices(const nomad::ServiceList& services) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  nomad::NomadView View() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Jobs named by the registrations read so far.
  std::set<JobKey> JobsOfRegistrations() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts and stops job watches to follow JobsOfRegistrations, and check reads to follow each
  // job's running allocations.
  void SyncJobWatches() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SyncCheckWatches(const JobKey& key, JobState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropJob(const JobKey& key, JobState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job endpoint answered 404: unwatch the job, mark it missing (see JobState::missing).
  void JobMissing(const JobKey& key, JobState& st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnJob(const JobKey& key, const http::Response& r);
  void OnDeployment(const JobKey& key, const http::Response& r);
  void OnAllocations(const JobKey& key, const http::Response& r);
  void OnChecks(const JobKey& key, const std::string& alloc_id, const http::Response& r);
  // Plans every job of `jobs` whose job, deployment and allocations are known.
  std::map<JobKey, nomad::JobTraffic> PlanTraffic(const std::map<JobKey, JobState>& jobs,
                                                  std::vector<model::Problem>* problems) const;
  // BuildWorld of `view` with the plans applied: excluded allocations' registrations left out,
  // canaries split from the rest.
  static model::World BuildTrafficWorld(nomad::NomadView view, const std::map<JobKey, nomad::JobTraffic>& plans,
                                        std::vector<model::Problem>* problems);
  nomad::TrafficOptions Traffic() const { return {.default_canary_weight = options_.canary.weight}; }

  const Options options_;
  const std::string list_path_;

  http::WatchId list_watch_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<nomad::ServiceList> list_ ABSL_GUARDED_BY(mu_);
  uint64_t list_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<nomad::ServiceKey, ServiceState> services_ ABSL_GUARDED_BY(mu_);
  std::map<JobKey, JobState> jobs_ ABSL_GUARDED_BY(mu_);
  // The plans last assembled: a plan that differs is a transition (update reason, log, status).
  std::map<JobKey, nomad::JobTraffic> traffic_ ABSL_GUARDED_BY(mu_);

  http::WatchId stream_watch_ ABSL_GUARDED_BY(mu_) = 0;
  StreamState stream_state_ ABSL_GUARDED_BY(mu_) = StreamState::kOff;
  std::string stream_reason_ ABSL_GUARDED_BY(mu_);  // why falling back
  nomad::EventStreamParser parser_ ABSL_GUARDED_BY(mu_);
  uint64_t stream_index_ ABSL_GUARDED_BY(mu_) = 0;  // the highest frame index seen (0: none)
  std::string stream_error_ ABSL_GUARDED_BY(mu_);   // why tern ended the current stream
};

}  // namespace tern::sources
