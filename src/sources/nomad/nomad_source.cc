#include "sources/nomad/nomad_source.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace tern::sources {
namespace {


std::string Origin(const std::string& endpoint) { return "nomad " + endpoint; }

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

NomadSource::NomadSource(std::string name, Options options)
    : name_(std::move(name)),
      options_(std::move(options)),
      list_path_(nomad::ServiceListPath(options_.namespace_name, options_.region)) {
  http::ClientOptions c;
  c.address = options_.address;
  if (c.address.find("://") == std::string::npos) c.address = "http://" + c.address;
  c.token_header = "X-Nomad-Token";
  c.index_header = "X-Nomad-Index";
  c.wait = options_.wait;
  c.backoff_min = options_.backoff_min;
  c.backoff_max = options_.backoff_max;
  if (!options_.token_file.empty()) {
    std::ifstream in(options_.token_file);
    std::stringstream buf;
    if (in) buf << in.rdbuf();
    if (!in) token_error_ = "cannot read the Nomad token file " + options_.token_file;
    c.token = Trimmed(buf.str());
  } else if (!options_.token_env.empty()) {
    const char* v = std::getenv(options_.token_env.c_str());
    if (!v) token_error_ = "the Nomad token variable " + options_.token_env + " is not set";
    else c.token = Trimmed(v);
  }
  client_ = std::make_unique<http::BlockingClient>(std::move(c));
  status_.name = name_;
}

NomadSource::~NomadSource() { Stop(); }

// --- one full synchronous read ---------------------------------------------------------------

absl::StatusOr<FragmentPtr> NomadSource::SyncOnce(std::vector<model::Problem>* problems) {
  if (!token_error_.empty()) {
    problems->push_back({name_, token_error_});
    return absl::FailedPreconditionError(token_error_);
  }
  const size_t before = problems->size();
  nomad::NomadView view;
  view.canary = options_.canary;
  std::vector<std::pair<std::string, http::BlockingClient::AnswerSeed>> reads;  // to seed the watches with
  uint64_t list_read_index = 0;
  {
    http::Response r = client_->Get(list_path_);
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
    http::Response r = client_->Get(path);
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
  for (const auto& p : mapping) spdlog::warn("source {}: {}", name_, p.ToString());

  absl::MutexLock lock(&mu_);
  if (!Watching()) {
    // Seed the watchers with what was read so that their first answers change nothing.
    list_ = view.services;
    list_index_ = list_read_index;  // tern_nomad_services_index from the first read on
    for (auto& [key, regs] : view.registrations) services_[key].registrations = regs;
    gate_.published = fragment;
    gate_.mapping_problems = mapping;
    // ... and so that they start blocking where this read stopped instead of reading it all again.
    for (const auto& [path, seed] : reads) client_->Seed(path, seed);
  }
  status_.synced = true;
  status_.index++;
  status_.last_sync = std::chrono::system_clock::now();
  status_.last_error.clear();
  return FragmentPtr(fragment);
}

// --- watching ---------------------------------------------------------------------------------

void NomadSource::Start(UpdateSink& sink) {
  {
    absl::MutexLock lock(&mu_);
    if (sink_) return;
    sink_ = &sink;
    list_watch_ = client_->Watch(list_path_, [this](const http::Response& r) { OnList(r); });
    if (list_) SetServices(*list_);  // services seeded by SyncOnce get their watches now
  }
  client_->ClearSeeds();  // every watch the sync seeded exists now
  client_->SetBatchHook([this] { OnBatch(); });
  client_->Start();
}

void NomadSource::Stop() {
  client_->Stop();
  absl::MutexLock lock(&mu_);
  sink_ = nullptr;
}

void NomadSource::Failed(const std::string& endpoint, const std::string& error) {
  gate_.Failed(name_, endpoint, Origin(endpoint), error, status_);
}

void NomadSource::Succeeded(const std::string& endpoint, const std::string& reason) {
  gate_.Succeeded(name_, endpoint, Origin(endpoint), reason, status_);
}

void NomadSource::OnList(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  if (!r.ok) return Failed(list_path_, r.error);
  auto list = nomad::DecodeServiceList(r.body, list_path_);
  if (!list.ok()) {
    client_->RejectAnswer(list_watch_);  // retried like a failed request, not at the next change
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
    if (it->second.watch) client_->Unwatch(it->second.watch);
    gate_.failing.erase(nomad::ServicePath(it->first, options_.region));
    spdlog::info("source {}: service {} is no longer registered", name_, nomad::ClusterName(it->first));
    it = services_.erase(it);
  }
  for (const auto& [key, tags] : services) {
    ServiceState& st = services_[key];
    if (Watching() && st.watch == 0) {
      nomad::ServiceKey k = key;
      st.watch = client_->Watch(nomad::ServicePath(key, options_.region),
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
    client_->RejectAnswer(it->second.watch);
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

void NomadSource::OnBatch() {
  UpdateSink* sink = nullptr;
  std::vector<model::Problem> errors;
  FragmentPtr fragment;
  std::optional<model::WorldDelta> since;
  std::string reason;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_;
    errors.swap(gate_.pending_errors);
    // Nothing is published before the list has been read once: a fragment without it would
    // withdraw every Nomad service that is really there.
    if ((gate_.dirty || gate_.force) && list_) {
      std::vector<model::Problem> mapping;
      auto world = std::make_shared<const model::World>(nomad::BuildWorld(View(), &mapping));
      gate_.Offer(std::move(world), std::move(mapping), "nomad answers again", status_, &fragment, &since, &reason, &errors);
    }
  }
  if (!sink) return;
  if (fragment && since) sink->OnUpdateWithChanges(name_, fragment, std::move(*since), reason);
  else if (fragment) sink->OnUpdate(name_, fragment, reason);
  if (!errors.empty()) sink->OnError(name_, std::move(errors));
}

SourceStatus NomadSource::status() const {
  absl::MutexLock lock(&mu_);
  SourceStatus s = status_;
  s.index = list_index_ ? list_index_ : s.index;
  return s;
}

std::string NomadSource::MetricsText() const {
  uint64_t errors, updates, index, failing;
  {
    absl::MutexLock lock(&mu_);
    errors = gate_.errors_total;
    updates = gate_.updates_total;
    index = list_index_;
    failing = gate_.failing.size();
  }
  const std::string n = "{source=\"" + name_ + "\"}";
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
    return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + n + " " +
           std::to_string(value) + "\n";
  };
  std::string out;
  out += metric("tern_nomad_requests_total", "counter", "HTTP requests made to Nomad (blocking queries and reads).",
                client_->total_requests());
  out += metric("tern_nomad_errors_total", "counter", "Failed or undecodable Nomad answers.", errors);
  out += metric("tern_nomad_updates_total", "counter", "Fragments handed to the core.", updates);
  out += metric("tern_nomad_watches", "gauge", "Blocking queries currently watched.", client_->watch_count());
  out += metric("tern_nomad_failing_endpoints", "gauge", "Nomad endpoints whose last answer failed.", failing);
  out += metric("tern_nomad_services_index", "gauge", "X-Nomad-Index of the last /v1/services answer.", index);
  return out;
}

}  // namespace tern::sources
