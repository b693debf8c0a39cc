#include "sources/watch/watching_source.h"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tern::sources {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A counter kept equal to a running total owned elsewhere (the client's request count, the
// gate's error count): prometheus counters only go up by increments.
void CatchUp(prometheus::Counter* c, uint64_t total) {
  const double now = static_cast<double>(total);
  if (now > c->Value()) c->Increment(now - c->Value());
}

}  // namespace

Token LoadToken(const std::string& file, const std::string& env, const std::string& what) {
  Token t;
  if (!file.empty()) {
    std::ifstream in(file);
    std::stringstream buf;
    if (in) buf << in.rdbuf();
    if (!in) t.error = "cannot read the " + what + " token file " + file;
    else t.value = Trimmed(buf.str());
  } else if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (!v) t.error = "the " + what + " token variable " + env + " is not set";
    else t.value = Trimmed(v);
  }
  return t;
}

WatchingSource::WatchingSource(std::string name, Settings settings)
    : name_(std::move(name)), settings_(std::move(settings)) {
  http::ClientOptions c = settings_.client;
  if (c.address.find("://") == std::string::npos) c.address = "http://" + c.address;
  Token token = LoadToken(settings_.token_file, settings_.token_env, settings_.remote);
  token_error_ = std::move(token.error);
  c.token = std::move(token.value);
  client_ = std::make_unique<http::BlockingClient>(std::move(c));
  status_.name = name_;

  registry_ = settings_.registry;
  if (!registry_) {
    registry_ = std::make_shared<prometheus::Registry>();
    own_registry_ = true;
  }
  const std::string& k = settings_.kind;
  const std::string& r = settings_.remote;
  const prometheus::Labels labels{{"source", name_}};
  // Families of the same name are shared by every source of a kind (Registry::Add returns the
  // existing family); each source adds its own series.
  auto counter = [&](const std::string& metric, const std::string& help) {
    return &prometheus::BuildCounter().Name("tern_" + k + "_" + metric).Help(help).Register(*registry_).Add(labels);
  };
  auto gauge = [&](const std::string& metric, const std::string& help) {
    return &prometheus::BuildGauge().Name("tern_" + k + "_" + metric).Help(help).Register(*registry_).Add(labels);
  };
  requests_ = counter("requests_total", "HTTP requests made to " + r + " (blocking queries and reads).");
  errors_ = counter("errors_total", "Failed or undecodable " + r + " answers.");
  updates_ = counter("updates_total", "Fragments handed to the core.");
  if (settings_.reports_leader) {
    leaderless_ = counter("leaderless_answers_total",
                          "Answers used although the server knew of no cluster leader (X-Consul-KnownLeader: false).");
  }
  watches_ = gauge("watches", "Blocking queries currently watched.");
  failing_ = gauge("failing_endpoints", r + " endpoints whose last answer failed.");
  if (settings_.reports_degraded) {
    degraded_ = gauge("degraded", "Parts of the source working a slower way than configured, the data staying current "
                                  "(the Nomad event stream replaced by blocking queries).");
  }
  index_ = gauge(settings_.index_metric, settings_.index_help);
}

WatchingSource::~WatchingSource() { Stop(); }

bool WatchingSource::TokenProblem(std::vector<model::Problem>* problems) const {
  if (token_error_.empty()) return false;
  problems->push_back({name_, token_error_});
  return true;
}

void WatchingSource::SyncDone(FragmentPtr published, std::vector<model::Problem> mapping) {
  if (!Watching()) {
    gate_.published = std::move(published);
    gate_.mapping_problems = std::move(mapping);
  }
  status_.synced = true;
  status_.index++;
  status_.last_sync = std::chrono::system_clock::now();
  status_.last_error.clear();
}

void WatchingSource::Start(UpdateSink& sink) {
  {
    absl::MutexLock lock(&mu_);
    if (sink_) return;
    sink_ = &sink;
    StartWatches();
  }
  client_->ClearSeeds();  // every watch the sync seeded exists now
  client_->SetBatchHook([this] { OnBatch(); });
  client_->Start();
}

void WatchingSource::Stop() {
  client_->Stop();
  absl::MutexLock lock(&mu_);
  sink_ = nullptr;
}

void WatchingSource::Failed(const std::string& endpoint, const std::string& error) {
  gate_.Failed(name_, endpoint, Origin(endpoint), error, status_);
}

void WatchingSource::Succeeded(const std::string& endpoint, const std::string& event) {
  gate_.Succeeded(name_, endpoint, Origin(endpoint), event, status_);
}

void WatchingSource::OnBatch() {
  UpdateSink* sink = nullptr;
  std::vector<model::Problem> errors;
  FragmentPtr fragment;
  std::optional<model::WorldDelta> since;
  std::string reason;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_;
    errors.swap(gate_.pending_errors);
    BeforeBatch();
    if ((gate_.dirty || gate_.force) && Complete()) {
      Assembly a = Assemble();
      const std::string idle = settings_.kind + " answers again";
      if (a.since_published) {
        gate_.OfferChanges(std::move(a.world), std::move(*a.since_published), std::move(a.mapping), idle.c_str(),
                           status_, &fragment, &since, &reason, &errors);
      } else {
        gate_.Offer(std::move(a.world), std::move(a.mapping), idle.c_str(), status_, &fragment, &since, &reason,
                    &errors);
      }
    }
  }
  if (!sink) return;
  if (fragment && since) sink->OnUpdateWithChanges(name_, fragment, std::move(*since), reason);
  else if (fragment) sink->OnUpdate(name_, fragment, reason);
  if (!errors.empty()) sink->OnError(name_, std::move(errors));
}

SourceStatus WatchingSource::status() const {
  absl::MutexLock lock(&mu_);
  SourceStatus s = status_;
  if (uint64_t index = ReportedIndex()) s.index = index;
  s.watches = client_->watch_count();
  for (const auto& [endpoint, error] : gate_.failing) s.failing[Origin(endpoint)] = error;
  s.degraded = gate_.degraded;
  AddStatus(s);
  return s;
}

std::string WatchingSource::MetricsText() const {
  {
    absl::MutexLock lock(&mu_);  // one scrape at a time catches the counters up
    CatchUp(requests_, client_->total_requests());
    CatchUp(errors_, gate_.errors_total);
    CatchUp(updates_, gate_.updates_total);
    if (leaderless_) CatchUp(leaderless_, client_->leaderless_answers());
    watches_->Set(static_cast<double>(client_->watch_count()));
    failing_->Set(static_cast<double>(gate_.failing.size()));
    if (degraded_) degraded_->Set(static_cast<double>(gate_.degraded.size()));
    index_->Set(static_cast<double>(ReportedIndex()));
  }
  if (!own_registry_) return "";  // rendered with the rest of tern's registry
  prometheus::TextSerializer s;
  std::ostringstream os;
  s.Serialize(os, registry_->Collect());
  return os.str();
}

}  // namespace tern::sources
