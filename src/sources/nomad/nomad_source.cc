#include "sources/nomad/nomad_source.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace tern::sources {
namespace {

WatchingSource::Settings SettingsOf(const NomadSource::Options& o) {
  WatchingSource::Settings s;
  s.kind = "nomad";
  s.remote = "Nomad";
  s.token_file = o.token_file;
  s.token_env = o.token_env;
  s.client.address = o.address;
  s.client.token_header = "X-Nomad-Token";
  s.client.index_header = "X-Nomad-Index";
  s.client.wait = o.wait;
  s.client.backoff_min = o.backoff_min;
  s.client.backoff_max = o.backoff_max;
  s.index_metric = "services_index";
  s.index_help = "X-Nomad-Index of the last /v1/services answer.";
  s.registry = o.registry;
  return s;
}

}  // namespace

NomadSource::NomadSource(std::string name, Options options)
    : WatchingSource(std::move(name), SettingsOf(options)),
      options_(std::move(options)),
      list_path_(nomad::ServiceListPath(options_.namespace_name, options_.region)) {}

NomadSource::~NomadSource() { Stop(); }

// --- one full synchronous read ---------------------------------------------------------------

absl::StatusOr<FragmentPtr> NomadSource::SyncOnce(std::vector<model::Problem>* problems) {
  if (TokenProblem(problems)) return absl::FailedPreconditionError(problems->back().message);
  const size_t before = problems->size();
  nomad::NomadView view;
  view.canary = options_.canary;
  std::vector<std::pair<std::string, http::BlockingClient::AnswerSeed>> reads;  // to seed the watches with
  uint64_t list_read_index = 0;
  {
    http::Response r = client().Get(list_path_);
    if (!r.ok) {
      problems->push_back({Origin(list_path_), r.error});
      return absl::UnavailableError("Nomad could not be read");
    }
    auto list = nomad::DecodeServiceList(r.body, list_path_);
    if (!list.ok()) {
      problems->push_back({Origin(list_path_), std::string(list.status().message())});
      return absl::UnavailableError("Nomad could not be read");
    }
    view.services = *list;
    list_read_index = r.index;
    reads.emplace_back(list_path_, http::BlockingClient::SeedOf(r));
  }
  for (const auto& [key, tags] : view.services) {
    const std::string path = nomad::ServicePath(key, options_.region);
    http::Response r = client().Get(path);
    if (!r.ok) {
      problems->push_back({Origin(path), r.error});
      continue;
    }
    auto regs = nomad::DecodeRegistrations(r.body, path);
    if (!regs.ok()) {
      problems->push_back({Origin(path), std::string(regs.status().message())});
      continue;
    }
    view.registrations[key] = *regs;
    reads.emplace_back(path, http::BlockingClient::SeedOf(r));
  }
  if (problems->size() > before) return absl::UnavailableError("Nomad could not be read");
  std::vector<model::Problem> mapping;
  auto fragment = std::make_shared<const model::World>(nomad::BuildWorld(view, &mapping));
  for (const auto& p : mapping) spdlog::warn("source {}: {}", name(), p.ToString());

  absl::MutexLock lock(&mu_);
  if (!Watching()) {
    // Seed the watchers with what was read so that their first answers change nothing.
    list_ = view.services;
    list_index_ = list_read_index;  // tern_nomad_services_index from the first read on
    for (auto& [key, regs] : view.registrations) services_[key].registrations = regs;
    // ... and so that they start blocking where this read stopped instead of reading it all again.
    for (const auto& [path, seed] : reads) client().Seed(path, seed);
  }
  SyncDone(fragment, mapping);
  return FragmentPtr(fragment);
}

// --- watching ---------------------------------------------------------------------------------

void NomadSource::StartWatches() {
  list_watch_ = client().Watch(list_path_, [this](const http::Response& r) { OnList(r); });
  if (list_) SetServices(*list_);  // services seeded by SyncOnce get their watches now
}

void NomadSource::OnList(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!r.ok) return Failed(list_path_, r.error);
  auto list = nomad::DecodeServiceList(r.body, list_path_);
  if (!list.ok()) {
    client().RejectAnswer(list_watch_);  // retried like a failed request, not at the next change
    return Failed(list_path_, std::string(list.status().message()));
  }
  list_index_ = r.index;
  list_ = *list;
  SetServices(*list);
  Succeeded(list_path_, "nomad services index " + std::to_string(r.index));
}

void NomadSource::SetServices(const nomad::ServiceList& services) {
  for (auto it = services_.begin(); it != services_.end();) {
    if (services.contains(it->first)) {
      ++it;
      continue;
    }
    // A successful list says the service is gone: this is a real removal.
    if (it->second.watch) client().Unwatch(it->second.watch);
    gate_.failing.erase(nomad::ServicePath(it->first, options_.region));
    spdlog::info("source {}: service {} is no longer registered", name(), nomad::ClusterName(it->first));
    it = services_.erase(it);
  }
  for (const auto& [key, tags] : services) {
    ServiceState& st = services_[key];
    if (Watching() && st.watch == 0) {
      nomad::ServiceKey k = key;
      st.watch = client().Watch(nomad::ServicePath(key, options_.region),
                                [this, k](const http::Response& r) { OnService(k, r); });
    }
  }
}

void NomadSource::OnService(const nomad::ServiceKey& key, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  const std::string path = nomad::ServicePath(key, options_.region);
  auto it = services_.find(key);
  if (it == services_.end()) return;
  if (!r.ok) return Failed(path, r.error);
  auto regs = nomad::DecodeRegistrations(r.body, path);
  if (!regs.ok()) {
    client().RejectAnswer(it->second.watch);
    return Failed(path, std::string(regs.status().message()));
  }
  it->second.registrations = *regs;
  Succeeded(path, "nomad service " + nomad::ClusterName(key) + " index " + std::to_string(r.index));
}

nomad::NomadView NomadSource::View() const {
  nomad::NomadView v;
  v.canary = options_.canary;
  if (list_) v.services = *list_;
  for (const auto& [key, st] : services_) {
    if (st.registrations) v.registrations[key] = *st.registrations;
  }
  return v;
}

WatchingSource::Assembly NomadSource::Assemble() {
  Assembly a;
  a.world = std::make_shared<const model::World>(nomad::BuildWorld(View(), &a.mapping));
  return a;
}

}  // namespace tern::sources
