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
  s.client.stream_backoff_max = o.stream_backoff_max;
  s.client.stream_idle_timeout = o.stream_idle_timeout;
  s.client.ca_file = o.tls.ca_file;
  s.client.cert_file = o.tls.cert_file;
  s.client.key_file = o.tls.key_file;
  s.client.server_name = o.tls.server_name;
  s.index_metric = "services_index";
  s.index_help = "X-Nomad-Index of the last /v1/services answer.";
  s.reports_degraded = true;  // the event stream replaced by blocking queries
  s.registry = o.registry;
  return s;
}

bool Running(const nomad::Allocation& a) {
  return a.client_status == "running" && (a.desired_status.empty() || a.desired_status == "run");
}

std::string JobName(const std::string& namespace_name, const std::string& id) {
  return "job " + id + " (" + namespace_name + ")";
}

// The stream's endpoint as the parser's errors and the update reasons name it (without topics
// and index).
constexpr char kStreamEndpoint[] = "/v1/event/stream";
constexpr char kStreamSubject[] = "event stream";  // in SourceStatus::details and ::degraded

}  // namespace

NomadSource::NomadSource(std::string name, Options options)
    : WatchingSource(std::move(name), SettingsOf(options)),
      options_(std::move(options)),
      list_path_(nomad::ServiceListPath(options_.namespace_name, options_.region)),
      parser_(kStreamEndpoint) {}

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

  // The jobs the registrations name: their deployment data. A read that fails is reported (not
  // fatal: the job's allocations are then all stable) and read again by its watch.
  std::map<JobKey, JobState> jobs;
  for (const auto& [key, regs] : view.registrations) {
    for (const auto& r : regs) {
      if (!r.job_id.empty()) jobs[{r.namespace_name, r.job_id}];
    }
  }
  auto take = [&](const std::string& path, const http::Response& r, auto decode, auto& slot) {
    if (!r.ok) return mapping.push_back({Origin(path), r.error});
    auto v = decode(r.body, path);
    if (!v.ok()) return mapping.push_back({Origin(path), std::string(v.status().message())});
    slot.value = std::move(*v);
    slot.answered = true;
    reads.emplace_back(path, http::BlockingClient::SeedOf(r));
  };
  auto read = [&](const std::string& path, auto decode, auto& slot) { take(path, client().Get(path), decode, slot); };
  for (auto& [key, st] : jobs) {
    const std::string job_path = nomad::JobPath(key.id, key.namespace_name, options_.region);
    http::Response job = client().Get(job_path);
    if (job.status == 404) {
      st.missing = true;  // no job: nothing to plan (see JobState::missing)
      st.job.answered = st.deployment.answered = st.allocations.answered = true;
      continue;
    }
    take(job_path, job, nomad::DecodeJob, st.job);
    read(nomad::JobDeploymentPath(key.id, key.namespace_name, options_.region), nomad::DecodeJobDeployment,
         st.deployment);
    read(nomad::JobAllocationsPath(key.id, key.namespace_name, options_.region), nomad::DecodeAllocations,
         st.allocations);
    if (!st.allocations.value) continue;
    for (const auto& a : *st.allocations.value) {
      if (Running(a)) {
        read(nomad::AllocationChecksPath(a.id, key.namespace_name, options_.region), nomad::DecodeAllocationChecks,
             st.checks[a.id]);
      }
    }
  }

  absl::MutexLock lock(&mu_);
  if (!Watching()) {
    // Seed the watchers with what was read so that their first answers change nothing.
    list_ = view.services;
    list_index_ = list_read_index;  // tern_nomad_services_index from the first read on
    for (auto& [key, regs] : view.registrations) services_[key].registrations = regs;
    jobs_ = std::move(jobs);
    // ... and so that they start blocking where this read stopped instead of reading it all again.
    for (const auto& [path, seed] : reads) client().Seed(path, seed);
  }
  // Planned from what this read found (also when the source is already watching: its watches'
  // state is left alone then).
  std::map<JobKey, nomad::JobTraffic> plans = PlanTraffic(Watching() ? jobs : jobs_, &mapping);
  auto fragment = std::make_shared<const model::World>(BuildTrafficWorld(view, plans, &mapping));
  for (const auto& p : mapping) spdlog::warn("source {}: {}", name(), p.ToString());
  for (const auto& [key, plan] : plans) spdlog::info("source {}: {}", name(), nomad::DescribeJobTraffic(plan));
  if (!Watching()) traffic_ = std::move(plans);
  SyncDone(fragment, mapping);
  return FragmentPtr(fragment);
}

// --- watching ---------------------------------------------------------------------------------

void NomadSource::StartWatches() {
  list_watch_ = client().Watch(list_path_, [this](const http::Response& r) { OnList(r); });
  if (list_) SetServices(*list_);  // services seeded by SyncOnce get their watches now
  SyncJobWatches();                // ... and the jobs they name
  if (options_.event_stream) {
    // Blocking queries until the stream is live (its first frame or heartbeat).
    stream_state_ = StreamState::kConnecting;
    stream_watch_ = client().Stream([this] { return StreamPath(); },
                                    {.on_open = [this](long status) { OnStreamOpen(status); },
                                     .on_bytes = [this](std::string_view b) { return OnStreamBytes(b); },
                                     .on_end = [this](const http::Response& r) { OnStreamEnd(r); }});
  }
}

http::WatchId NomadSource::WatchPath(const std::string& path, http::WatchCallback callback) {
  if (!Live()) return client().Watch(path, std::move(callback));
  http::WatchId id = client().WatchOnDemand(path, std::move(callback));
  client().Trigger(id, /*urgent=*/false);  // its first read
  return id;
}

void NomadSource::WatchService(const nomad::ServiceKey& key, ServiceState& st) {
  st.watch = WatchPath(nomad::ServicePath(key, options_.region),
                       [this, key](const http::Response& r) { OnService(key, r); });
}

void NomadSource::WatchJob(const JobKey& key, JobState& st) {
  const std::string& ns = key.namespace_name;
  st.job.watch = WatchPath(nomad::JobPath(key.id, ns, options_.region),
                           [this, key](const http::Response& r) { OnJob(key, r); });
  st.deployment.watch = WatchPath(nomad::JobDeploymentPath(key.id, ns, options_.region),
                                  [this, key](const http::Response& r) { OnDeployment(key, r); });
  st.allocations.watch = WatchPath(nomad::JobAllocationsPath(key.id, ns, options_.region),
                                   [this, key](const http::Response& r) { OnAllocations(key, r); });
}

void NomadSource::RestartWatches() {
  // The last good data stays; only how it is kept fresh changes. A new blocking watch starts with
  // a plain read, a new on-demand one is triggered at once: either way every path is read again.
  for (auto& [key, st] : services_) {
    if (!st.watch) continue;
    client().Unwatch(st.watch);
    WatchService(key, st);
  }
  for (auto& [key, st] : jobs_) {
    if (st.missing) continue;
    for (http::WatchId w : {st.job.watch, st.deployment.watch, st.allocations.watch}) {
      if (w) client().Unwatch(w);
    }
    WatchJob(key, st);
  }
  if (!Live() && list_watch_) {
    // The list too, so that a Nomad whose index was reset is read at once, not after `wait`.
    client().Unwatch(list_watch_);
    list_watch_ = client().Watch(list_path_, [this](const http::Response& r) { OnList(r); });
  }
}

// --- the event stream -------------------------------------------------------------------------

std::string NomadSource::StreamPath() {
  absl::MutexLock lock(&mu_);
  // From the last frame seen + 1; before any, from the list's index + 1 (what the watches already
  // hold is not replayed).
  const uint64_t from = stream_index_ > 0 ? stream_index_ + 1 : (list_index_ > 0 ? list_index_ + 1 : 0);
  return nomad::EventStreamPath(from, options_.namespace_name, options_.region);
}

void NomadSource::OnStreamOpen(long /*status*/) {
  absl::MutexLock lock(&mu_);
  parser_.Reset();
  stream_error_.clear();
}

bool NomadSource::OnStreamBytes(std::string_view bytes) {
  absl::MutexLock lock(&mu_);
  auto frames = parser_.Feed(bytes);
  if (!frames.ok()) {
    stream_error_ = std::string(frames.status().message());
    return false;
  }
  for (const nomad::EventFrame& f : *frames) {
    if (!f.heartbeat && f.index < stream_index_) {
      stream_error_ = "the event stream's index went backwards (" + std::to_string(stream_index_) + " to " +
                      std::to_string(f.index) + "): Nomad's state was reset; reading everything again";
      stream_index_ = 0;  // the next connection starts from the list's index
      return false;
    }
    if (!Live()) GoLive(f.heartbeat ? stream_index_ : f.index);
    if (f.heartbeat) continue;
    stream_index_ = f.index;
    for (const nomad::Event& e : f.events) TriggerFor(e);
  }
  return true;
}

void NomadSource::OnStreamEnd(const http::Response& r) {
  absl::MutexLock lock(&mu_);
  std::string reason = stream_error_;
  stream_error_.clear();
  if (reason.empty() && parser_.pending_bytes() > 0) {
    absl::Status truncated = parser_.Finish();  // cut mid-frame: say so rather than curl's words
    if (!truncated.ok()) reason = std::string(truncated.message()) + " (" + r.error + ")";
  }
  if (reason.empty()) reason = r.error;
  if (r.status == 403) {
    reason += " (the token may lack a capability the stream needs: read-job on the namespace)";
  } else if (r.status == 404) {
    reason += " (a Nomad without the event stream?)";
  }
  FallBack(reason);
}

void NomadSource::GoLive(uint64_t index) {
  const bool was_live = Live();
  stream_state_ = StreamState::kLive;
  stream_reason_.clear();
  if (!was_live) RestartWatches();  // on demand now, each read once (the resync)
  spdlog::info("source {}: Nomad's event stream is live (index {}): reads on demand", name(), index);
  Restored(kStreamSubject);
  Succeeded(kStreamEndpoint, "nomad event stream live at index " + std::to_string(index));
}

void NomadSource::FallBack(const std::string& reason) {
  const bool was_live = Live();
  stream_state_ = StreamState::kFallingBack;
  stream_reason_ = reason;
  if (was_live) RestartWatches();  // blocking queries again, each starting with a plain read
  // Not a failure: every watch is a blocking query again and keeps the data current.
  Degraded(kStreamSubject, "falling back to blocking queries: " + reason);
}

void NomadSource::TriggerJob(const JobKey& key, bool job, bool deployment, bool allocations) {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;  // not a job any registration names (yet)
  JobState& st = it->second;
  if (st.missing) {
    // Nomad did not know it: now it does.
    if (!job) return;
    st = JobState{};
    WatchJob(key, st);
    return;
  }
  if (job && st.job.watch) client().Trigger(st.job.watch);
  if (deployment && st.deployment.watch) client().Trigger(st.deployment.watch);
  if (allocations && st.allocations.watch) client().Trigger(st.allocations.watch);
}

void NomadSource::TriggerFor(const nomad::Event& e) {
  if (e.topic == "Service") {
    // A service tern does not watch yet comes from the list (a blocking query).
    const std::string ns = e.service && !e.service->namespace_name.empty() ? e.service->namespace_name : e.namespace_name;
    auto it = services_.find({ns, e.service ? e.service->service : e.key});
    if (it != services_.end() && it->second.watch) client().Trigger(it->second.watch);
  } else if (e.topic == "Deployment" && e.deployment) {
    const std::string ns = e.deployment->namespace_name.empty() ? e.namespace_name : e.deployment->namespace_name;
    TriggerJob({ns, e.deployment->job_id}, false, true, true);
  } else if (e.topic == "Allocation" && e.allocation) {
    const std::string ns = e.allocation->namespace_name.empty() ? e.namespace_name : e.allocation->namespace_name;
    TriggerJob({ns, e.allocation->job_id}, false, true, true);
  } else if (e.topic == "Job") {
    TriggerJob({e.namespace_name, e.key}, true, false, false);
  }
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
    if (Watching() && st.watch == 0) WatchService(key, st);
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
  // A job Nomad did not know is asked about again when a registration naming it changes.
  for (const auto& reg : *regs) {
    auto job = jobs_.find({reg.namespace_name, reg.job_id});
    if (job != jobs_.end() && job->second.missing) job->second = JobState{};
  }
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

// --- deployment-aware traffic -----------------------------------------------------------------

std::set<NomadSource::JobKey> NomadSource::JobsOfRegistrations() const {
  std::set<JobKey> out;
  for (const auto& [key, st] : services_) {
    if (!st.registrations || !list_ || !list_->contains(key)) continue;
    for (const auto& r : *st.registrations) {
      if (!r.job_id.empty()) out.insert({r.namespace_name, r.job_id});
    }
  }
  return out;
}

void NomadSource::BeforeBatch() {
  if (Watching()) SyncJobWatches();
}

void NomadSource::SyncJobWatches() {
  const std::set<JobKey> wanted = JobsOfRegistrations();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    DropJob(it->first, it->second);
    spdlog::info("source {}: {} has no registrations any more; not watched", name(),
                 JobName(it->first.namespace_name, it->first.id));
    traffic_.erase(it->first);
    it = jobs_.erase(it);
  }
  for (const JobKey& key : wanted) {
    JobState& st = jobs_[key];
    if (st.missing) continue;
    if (!st.job.watch) WatchJob(key, st);  // the three start and stop together
    SyncCheckWatches(key, st);
  }
}

void NomadSource::SyncCheckWatches(const JobKey& key, JobState& st) {
  std::set<std::string> running;
  if (st.allocations.value) {
    for (const auto& a : *st.allocations.value) {
      if (Running(a)) running.insert(a.id);
    }
  }
  for (auto it = st.checks.begin(); it != st.checks.end();) {
    if (running.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.watch) client().Unwatch(it->second.watch);
    gate_.failing.erase(nomad::AllocationChecksPath(it->first, key.namespace_name, options_.region));
    it = st.checks.erase(it);
  }
  for (const std::string& id : running) {
    auto& c = st.checks[id];
    if (c.watch) continue;
    // No blocking query: the client polls it every checks_period (an answer without an index),
    // and delivers only an answer whose bytes changed.
    c.watch = client().Watch(nomad::AllocationChecksPath(id, key.namespace_name, options_.region),
                             [this, key, id](const http::Response& r) { OnChecks(key, id, r); });
  }
}

void NomadSource::DropJob(const JobKey& key, JobState& st) {
  const std::string& ns = key.namespace_name;
  for (http::WatchId w : {st.job.watch, st.deployment.watch, st.allocations.watch}) {
    if (w) client().Unwatch(w);
  }
  gate_.failing.erase(nomad::JobPath(key.id, ns, options_.region));
  gate_.failing.erase(nomad::JobDeploymentPath(key.id, ns, options_.region));
  gate_.failing.erase(nomad::JobAllocationsPath(key.id, ns, options_.region));
  for (auto& [id, c] : st.checks) {
    if (c.watch) client().Unwatch(c.watch);
    gate_.failing.erase(nomad::AllocationChecksPath(id, ns, options_.region));
  }
  st.checks.clear();
}

void NomadSource::JobMissing(const JobKey& key, JobState& st) {
  DropJob(key, st);
  st.job = {};
  st.deployment = {};
  st.allocations = {};
  st.job.answered = st.deployment.answered = st.allocations.answered = true;
  st.missing = true;
  traffic_.erase(key);
  spdlog::info("source {}: Nomad does not know {} (HTTP 404); its allocations are all stable", name(),
               JobName(key.namespace_name, key.id));
}

namespace {

// Applies one answer of a job watch to `slot`: decoded → kept, "" returned; failed or
// undecodable → the error returned, the last good value kept (and an undecodable answer rejected
// back to the client, so that it is retried with backoff).
template <typename T, typename Decode>
std::string Take(const http::Response& r, const std::string& path, Decode decode, T& slot,
                 http::BlockingClient& client) {
  slot.answered = true;
  if (!r.ok) return r.error.empty() ? "failed" : r.error;
  auto v = decode(r.body, path);
  if (!v.ok()) {
    client.RejectAnswer(slot.watch);
    std::string e(v.status().message());
    return e.empty() ? "undecodable answer" : e;
  }
  slot.value = std::move(*v);
  return "";
}

}  // namespace

void NomadSource::OnJob(const JobKey& key, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;
  const std::string path = nomad::JobPath(key.id, key.namespace_name, options_.region);
  if (r.status == 404) {
    JobMissing(key, it->second);
    gate_.dirty = true;
    return;
  }
  if (std::string e = Take(r, path, nomad::DecodeJob, it->second.job, client()); !e.empty()) {
    Failed(path, e);
  } else {
    Succeeded(path, "nomad " + JobName(key.namespace_name, key.id) + " index " + std::to_string(r.index));
  }
  gate_.dirty = true;  // the first answer, good or bad, may complete the fragment
}

void NomadSource::OnDeployment(const JobKey& key, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;
  const std::string path = nomad::JobDeploymentPath(key.id, key.namespace_name, options_.region);
  if (std::string e = Take(r, path, nomad::DecodeJobDeployment, it->second.deployment, client()); !e.empty()) {
    Failed(path, e);
  } else {
    Succeeded(path, "nomad " + JobName(key.namespace_name, key.id) + " deployment index " + std::to_string(r.index));
  }
  gate_.dirty = true;
}

void NomadSource::OnAllocations(const JobKey& key, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;
  const std::string path = nomad::JobAllocationsPath(key.id, key.namespace_name, options_.region);
  if (std::string e = Take(r, path, nomad::DecodeAllocations, it->second.allocations, client()); !e.empty()) {
    Failed(path, e);
  } else {
    Succeeded(path, "nomad " + JobName(key.namespace_name, key.id) + " allocations index " + std::to_string(r.index));
    SyncCheckWatches(key, it->second);  // a new running allocation's checks are read at once
  }
  gate_.dirty = true;
}

void NomadSource::OnChecks(const JobKey& key, const std::string& alloc_id, const http::Response& r) {
  absl::MutexLock lock(&mu_);
  auto job = jobs_.find(key);
  if (job == jobs_.end()) return;
  auto it = job->second.checks.find(alloc_id);
  if (it == job->second.checks.end()) return;
  const std::string path = nomad::AllocationChecksPath(alloc_id, key.namespace_name, options_.region);
  // A failed read keeps the last known results (reported once per distinct error).
  if (std::string e = Take(r, path, nomad::DecodeAllocationChecks, it->second, client()); !e.empty()) {
    Failed(path, e);
  } else {
    Succeeded(path, "nomad allocation " + alloc_id + " checks");
  }
  gate_.dirty = true;
}

bool NomadSource::Complete() const {
  if (!list_) return false;
  // Every watched job has answered once (well or not) on its three server paths, so that a
  // canary is never published as stable only because its deployment was not read yet. Check
  // reads are not waited for: they go through the allocation's client node, which may be slow
  // or gone (up to the 10 s request timeout), and must not hold every other service's change;
  // until its first read an allocation's checks exclude nothing.
  for (const auto& [key, st] : jobs_) {
    if (!st.job.answered || !st.deployment.answered || !st.allocations.answered) return false;
  }
  return true;
}

std::map<NomadSource::JobKey, nomad::JobTraffic> NomadSource::PlanTraffic(const std::map<JobKey, JobState>& jobs,
                                                                          std::vector<model::Problem>* problems) const {
  std::map<JobKey, nomad::JobTraffic> out;
  for (const auto& [key, st] : jobs) {
    // Without the job, its deployment and its allocations nothing can be planned: every
    // allocation of the job is stable (its read failures are reported as such).
    if (!st.job.value || !st.deployment.value || !st.allocations.value) continue;
    nomad::JobDeploymentView v;
    v.job = *st.job.value;
    if (v.job.id.empty()) v.job.id = key.id;
    if (v.job.namespace_name.empty()) v.job.namespace_name = key.namespace_name;
    v.deployment = *st.deployment.value;
    v.allocations = *st.allocations.value;
    for (const auto& [id, c] : st.checks) {
      if (c.value) v.checks[id] = *c.value;
    }
    out[key] = nomad::PlanJobTraffic(v, Traffic(), problems);
  }
  return out;
}

model::World NomadSource::BuildTrafficWorld(nomad::NomadView view, const std::map<JobKey, nomad::JobTraffic>& plans,
                                            std::vector<model::Problem>* problems) {
  std::vector<nomad::JobTraffic> all;
  for (const auto& [key, plan] : plans) all.push_back(plan);
  const std::map<std::string, nomad::AllocTraffic> by_alloc = nomad::AllocTrafficIndex(all);
  auto excluded = [&](const nomad::Registration& r) {
    auto it = by_alloc.find(r.alloc_id);
    return it != by_alloc.end() && it->second.role == nomad::TrafficRole::kExcluded;
  };
  // Excluded allocations leave first, so that canary tags (if configured) see only the rest.
  for (auto& [key, regs] : view.registrations) std::erase_if(regs, excluded);
  model::World w = nomad::BuildWorld(view, problems);
  for (const auto& [key, regs] : view.registrations) {
    auto base = w.clusters.find(nomad::ClusterName(key));
    if (base == w.clusters.end()) continue;
    const std::string origin = "nomad service " + base->first;
    nomad::ServiceTraffic t = nomad::ApplyTraffic(base->second, by_alloc, origin);
    if (!t.split) continue;
    // The deployment's canaries: the same clusters and routes as a tag canary (which they replace).
    const std::string service = base->first;
    w.clusters[t.split->canary.name] = std::move(t.split->canary);
    w.clusters[t.split->stable.name] = std::move(t.split->stable);
    w.service_routes[service] = {.service = service, .routes = std::move(t.split->routes), .origin = origin};
  }
  return w;
}

void NomadSource::AddStatus(SourceStatus& status) const {
  std::string& stream = status.details[kStreamSubject];
  switch (stream_state_) {
    case StreamState::kOff: stream = "off (nomad.event_stream: false): blocking queries"; break;
    case StreamState::kConnecting: stream = "connecting (blocking queries meanwhile)"; break;
    case StreamState::kLive: stream = "live: reads on demand"; break;
    case StreamState::kFallingBack: stream = "falling back to blocking queries: " + stream_reason_; break;
  }
  if (stream_state_ != StreamState::kOff) stream += "; last index " + std::to_string(stream_index_);
  for (const auto& [key, plan] : traffic_) {
    status.details[JobName(key.namespace_name, key.id)] = nomad::DescribeJobTraffic(plan);
  }
  for (const auto& [key, st] : jobs_) {
    const std::string job = JobName(key.namespace_name, key.id);
    if (status.details.contains(job)) continue;
    status.details[job] = job + (st.missing ? ": not known to Nomad (HTTP 404); all allocations stable"
                                            : ": deployment data not read; all allocations stable");
  }
}

WatchingSource::Assembly NomadSource::Assemble() {
  Assembly a;
  std::map<JobKey, nomad::JobTraffic> plans = PlanTraffic(jobs_, &a.mapping);
  // Transitions lead the update reason (the audit record's reasons) and are logged.
  std::vector<std::string> transitions;
  for (const auto& [key, plan] : plans) {
    auto old = traffic_.find(key);
    if (old != traffic_.end() && old->second == plan) continue;
    transitions.push_back(nomad::DescribeJobTraffic(plan));
    spdlog::info("source {}: {}", name(), transitions.back());
  }
  gate_.reasons.insert(gate_.reasons.begin(), transitions.begin(), transitions.end());
  a.world = std::make_shared<const model::World>(BuildTrafficWorld(View(), plans, &a.mapping));
  traffic_ = std::move(plans);
  return a;
}

}  // namespace tern::sources
