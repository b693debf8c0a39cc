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
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sources/http/blocking_client.h"
#include "sources/nomad/decoders.h"
#include "sources/fragment_gate.h"
#include "sources/source.h"
#include "sources/source_status.h"

namespace tern::sources {

class NomadSource : public Source, public StatusReporter, public MetricsReporter {
 public:
  struct Options {
    std::string address = "http://127.0.0.1:4646";
    std::string token_file;      // the ACL token is read from this file ...
    std::string token_env;       // ... or this environment variable; never logged
    std::string namespace_name;  // "" = Nomad's default namespace; "*" = every namespace
    std::string region;          // "" = the agent's own
    tags::CanaryOptions canary;  // no tag = canaries off
    std::chrono::milliseconds wait{std::chrono::seconds(60)};
    std::chrono::milliseconds backoff_min{50};
    std::chrono::milliseconds backoff_max{1000};  // back within a second of Nomad
  };

  NomadSource(std::string name, Options options);
  ~NomadSource() override;
  NomadSource(const NomadSource&) = delete;
  NomadSource& operator=(const NomadSource&) = delete;

  const std::string& name() const override { return name_; }
  absl::StatusOr<FragmentPtr> SyncOnce(std::vector<model::Problem>* problems) override;
  void Start(UpdateSink& sink) override;
  void Stop() override;
  SourceStatus status() const override;
  std::string MetricsText() const override;

  uint64_t requests_total() const { return client_->total_requests(); }

 private:
  struct ServiceState {
    http::WatchId watch = 0;
    std::optional<std::vector<nomad::Registration>> registrations;  // last good answer
  };

  void OnList(const http::Response& r);
  void OnService(const nomad::ServiceKey& key, const http::Response& r);
  void OnBatch();

  void Failed(const std::string& endpoint, const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Succeeded(const std::string& endpoint, const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a successful list: starts and stops per-service watches.
  void SetServices(const nomad::ServiceList& services) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  nomad::NomadView View() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Watching() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sink_ != nullptr; }

  const std::string name_;
  const Options options_;
  const std::string list_path_;
  std::string token_error_;  // set when the token could not be read
  std::unique_ptr<http::BlockingClient> client_;

  mutable absl::Mutex mu_;
  UpdateSink* sink_ ABSL_GUARDED_BY(mu_) = nullptr;
  http::WatchId list_watch_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<nomad::ServiceList> list_ ABSL_GUARDED_BY(mu_);
  uint64_t list_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<nomad::ServiceKey, ServiceState> services_ ABSL_GUARDED_BY(mu_);
  FragmentGate gate_ ABSL_GUARDED_BY(mu_);  // what was published, and why

  SourceStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tern::sources

