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

#include "sources/nomad/decoders.h"
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
    tags::CanaryOptions canary;  // no tag = canaries off
    std::chrono::milliseconds wait{std::chrono::seconds(60)};
    std::chrono::milliseconds backoff_min{50};
    std::chrono::milliseconds backoff_max{1000};  // back within a second of Nomad
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

  void StartWatches() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Complete() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return list_.has_value(); }
  Assembly Assemble() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t ReportedIndex() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return list_index_; }

  void OnList(const http::Response& r);
  void OnService(const nomad::ServiceKey& key, const http::Response& r);
  // Applies a successful list: starts and stops per-service watches.
  void SetServices(const nomad::ServiceList& services) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  nomad::NomadView View() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const std::string list_path_;

  http::WatchId list_watch_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<nomad::ServiceList> list_ ABSL_GUARDED_BY(mu_);
  uint64_t list_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<nomad::ServiceKey, ServiceState> services_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tern::sources
