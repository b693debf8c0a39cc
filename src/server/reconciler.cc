#include "server/reconciler.h"

#include <spdlog/spdlog.h>

#include <set>

#include "common/utf8.h"

namespace tern::server {

Reconciler::Reconciler(cache::SnapshotCache& cache, std::vector<std::string> source_names,
                       ReconcilerObserver* observer)
    : cache_(cache), observer_(observer) {
  absl::MutexLock l(&mu_);
  for (auto& n : source_names) states_[n].name = n;
}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  Flush();  // the first snapshot (an empty world is a valid world)
  thread_ = std::thread([this] { Loop(); });
}

void Reconciler::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Reconciler::OnUpdate(const std::string& source, sources::FragmentPtr fragment, std::string reason) {
  // Reasons and errors quote outside text (file contents, answers of Consul and Nomad); they are
  // kept as valid UTF-8 because /debug/sources and the audit log show them as JSON.
  reason = SanitizeUtf8(reason);
  absl::MutexLock l(&mu_);
  pending_[source] = Pending{std::move(fragment), std::nullopt, {}, std::move(reason)};
}

void Reconciler::OnUpdateWithChanges(const std::string& source, sources::FragmentPtr fragment,
                                     model::WorldDelta since_previous, std::string reason) {
  reason = SanitizeUtf8(reason);
  absl::MutexLock l(&mu_);
  auto it = pending_.find(source);
  if (it == pending_.end()) {
    pending_[source] = Pending{std::move(fragment), std::move(since_previous), {}, std::move(reason)};
    return;
  }
  // Another fragment is still queued: the new one's changes add to its changes, if it had any.
  Pending& p = it->second;
  if (p.fragment && p.since_previous && p.delta.empty()) {
    p.since_previous->Compose(std::move(since_previous));
  } else {
    p.since_previous.reset();
  }
  p.fragment = std::move(fragment);
  p.delta = {};
  p.reason = std::move(reason);
}

void Reconciler::OnDelta(const std::string& source, model::WorldDelta delta, std::string reason) {
  reason = SanitizeUtf8(reason);
  absl::MutexLock l(&mu_);
  Pending& p = pending_[source];
  p.delta.Compose(std::move(delta));
  p.reason = std::move(reason);
}

namespace {
// The entries of `fragment` (a source's whole contribution) that differ from what `source`
// contributes now, and removals of what it no longer has.
template <typename T>
void DiffOwned(const std::string& source, const std::map<std::string, T>& fragment, const std::map<std::string, T>& world,
               const std::map<std::string, std::string>& owners, std::map<std::string, std::optional<T>>& out) {
  for (const auto& [name, owner] : owners) {
    if (owner == source && !fragment.contains(name)) out.emplace(name, std::nullopt);
  }
  for (const auto& [name, value] : fragment) {
    auto o = owners.find(name);
    if (o == owners.end() || o->second != source) {
      out.emplace(name, value);
    } else if (auto w = world.find(name); w == world.end() || !(w->second == value)) {
      out.emplace(name, value);
    }
  }
}

template <typename T>
void ApplyKind(const std::string& source, const std::map<std::string, std::optional<T>>& delta,
               std::map<std::string, T>& world, std::map<std::string, std::string>& owners,
               std::map<std::string, std::pair<std::optional<T>, std::string>>& undo, std::set<std::string>& touched,
               const char* what, Reconciler::Phase phase, std::vector<model::Problem>* problems) {
  for (const auto& [name, value] : delta) {
    if (value.has_value() != (phase == Reconciler::Phase::kDefinitions)) continue;
    auto owner = owners.find(name);
    if (owner != owners.end() && owner->second != source) {
      // Another source's element: defining it too is a conflict; "removing" it means nothing.
      if (value) {
        problems->push_back({value->origin, std::string(what) + " '" + name + "' is already defined at " +
                                                world.at(name).origin + " (source " + owner->second + ")"});
      }
      continue;
    }
    if (!value && owner == owners.end()) continue;
    if (!undo.contains(name)) {
      auto w = world.find(name);
      undo.emplace(name, std::pair{w == world.end() ? std::nullopt : std::optional<T>(w->second),
                                   owner == owners.end() ? std::string() : owner->second});
    }
    if (value) {
      world[name] = *value;
      owners[name] = source;
    } else {
      world.erase(name);
      owners.erase(name);
    }
    touched.insert(name);
  }
}

template <typename T>
void RollbackKind(std::map<std::string, std::pair<std::optional<T>, std::string>>& undo, std::map<std::string, T>& world,
                  std::map<std::string, std::string>& owners) {
  for (auto& [name, prev] : undo) {
    if (prev.first) {
      world[name] = std::move(*prev.first);
      owners[name] = prev.second;
    } else {
      world.erase(name);
      owners.erase(name);
    }
  }
  undo.clear();
}
}  // namespace

model::WorldDelta Reconciler::DeltaOf(const std::string& source, const Pending& p) {
  model::WorldDelta d;
  if (p.fragment && p.since_previous && in_sync_.contains(source)) {
    d = *p.since_previous;
  } else if (p.fragment) {
    const model::World& f = *p.fragment;
    DiffOwned(source, f.clusters, world_.clusters, owners_.clusters, d.clusters);
    DiffOwned(source, f.gateways, world_.gateways, owners_.gateways, d.gateways);
    DiffOwned(source, f.service_routes, world_.service_routes, owners_.service_routes, d.service_routes);
    DiffOwned(source, f.secrets, world_.secrets, owners_.secrets, d.secrets);
    if (owners_.defaults == source) {
      if (!(world_.defaults == f.defaults)) d.defaults = f.defaults;
    } else if (f.defaults) {
      d.defaults = f.defaults;
    }
  }
  d.Compose(p.delta);
  return d;
}

model::ChangeSet Reconciler::Apply(const std::string& source, const model::WorldDelta& delta, Undo& undo,
                                   std::vector<model::Problem>* problems) {
  model::ChangeSet touched = Apply(source, delta, undo, Phase::kRemovals, problems);
  touched.Merge(Apply(source, delta, undo, Phase::kDefinitions, problems));
  return touched;
}

model::ChangeSet Reconciler::Apply(const std::string& source, const model::WorldDelta& delta, Undo& undo, Phase phase,
                                   std::vector<model::Problem>* problems) {
  model::ChangeSet touched;
  ApplyKind(source, delta.clusters, world_.clusters, owners_.clusters, undo.clusters, touched.clusters, "service",
            phase, problems);
  ApplyKind(source, delta.gateways, world_.gateways, owners_.gateways, undo.gateways, touched.gateways, "gateway",
            phase, problems);
  ApplyKind(source, delta.service_routes, world_.service_routes, owners_.service_routes, undo.service_routes,
            touched.service_routes, "routes for service", phase, problems);
  ApplyKind(source, delta.secrets, world_.secrets, owners_.secrets, undo.secrets, touched.secrets, "secret", phase,
            problems);
  if (delta.defaults && delta.defaults->has_value() == (phase == Phase::kDefinitions)) {
    if (!owners_.defaults.empty() && owners_.defaults != source) {
      if (*delta.defaults) {
        problems->push_back({(*delta.defaults)->origin, "gateway defaults are already set at " + world_.defaults->origin +
                                                            " (one source only may set them)"});
      }
    } else {
      if (!undo.defaults) undo.defaults.emplace(world_.defaults, owners_.defaults);
      world_.defaults = *delta.defaults;
      owners_.defaults = world_.defaults ? source : "";
      touched.defaults = true;
    }
  }
  return touched;
}

void Reconciler::Rollback(Undo& undo) {
  RollbackKind(undo.clusters, world_.clusters, owners_.clusters);
  RollbackKind(undo.gateways, world_.gateways, owners_.gateways);
  RollbackKind(undo.service_routes, world_.service_routes, owners_.service_routes);
  RollbackKind(undo.secrets, world_.secrets, owners_.secrets);
  if (undo.defaults) {
    world_.defaults = std::move(undo.defaults->first);
    owners_.defaults = undo.defaults->second;
    undo.defaults.reset();
  }
}

void Reconciler::OnError(const std::string& source, std::vector<model::Problem> problems) {
  std::string msg;
  for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p.ToString();
  msg = SanitizeUtf8(msg);
  for (const auto& p : problems) spdlog::error("source {}: {}", source, p.ToString());
  spdlog::warn("source {}: keeping its last good configuration", source);
  {
    absl::MutexLock l(&mu_);
    auto& st = states_[source];
    st.name = source;
    st.errors++;
    st.last_error = msg;
    st.last_error_time = std::chrono::system_clock::now();
  }
  if (observer_) observer_->OnRejected(source, problems);
}

void Reconciler::Loop() {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !pending_.empty(); };
      if (blocked_.empty()) {
        mu_.Await(absl::Condition(&ready));
      } else {
        // A publication is held back (BeforePublish vetoed it): try again every second.
        mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(1));
      }
      if (stop_) return;
    }
    Flush();
  }
}

void Reconciler::Flush() {
  absl::MutexLock al(&apply_mu_);
  ApplyLocked();
}

void Reconciler::ApplyLocked() {
  std::map<std::string, Pending> batch;
  bool first;
  {
    absl::MutexLock l(&mu_);
    batch.swap(pending_);
    first = !published_;
  }
  if (batch.empty() && !first && !held_) return;

  // Apply the whole batch to the world and build from what it touched; if the result is bad,
  // undo it and find out which sources' updates are to blame by applying them one by one, so that
  // one bad source cannot hold back the others.
  const auto build_start = std::chrono::steady_clock::now();
  std::map<std::string, model::WorldDelta> deltas;
  for (const auto& [src, p] : batch) deltas[src] = DeltaOf(src, p);
  std::optional<BuiltSnapshots> built;
  std::vector<std::string> accepted;
  {
    Undo undo;
    std::vector<model::Problem> problems;
    model::ChangeSet changes;
    // Every source's removals first: a name one source gives up and another takes over in the
    // same batch is a handover, not a conflict.
    for (const auto& [src, d] : deltas) changes.Merge(Apply(src, d, undo, Phase::kRemovals, &problems));
    for (const auto& [src, d] : deltas) changes.Merge(Apply(src, d, undo, Phase::kDefinitions, &problems));
    if (problems.empty()) built = builder_.Build(world_, changes, &problems);
    if (built) {
      for (const auto& [src, p] : batch) accepted.push_back(src);
      for (const auto& [src, p] : batch) in_sync_.insert(src);
    } else {
      Rollback(undo);
    }
  }
  if (!built) {
    for (const auto& [src, d] : deltas) {
      Undo undo;
      std::vector<model::Problem> mine;
      model::ChangeSet changes = Apply(src, d, undo, &mine);
      std::optional<BuiltSnapshots> b;
      if (mine.empty()) b = builder_.Build(world_, changes, &mine);
      if (b) {
        built = std::move(b);
        accepted.push_back(src);
        in_sync_.insert(src);
        continue;
      }
      Rollback(undo);
      in_sync_.erase(src);
      for (const auto& pr : mine) spdlog::error("source {}: update rejected: {}", src, pr.ToString());
      spdlog::warn("source {}: update rejected, the last good configuration keeps serving", src);
      std::string msg;
      for (const auto& pr : mine) msg += (msg.empty() ? "" : "; ") + pr.ToString();
      {
        absl::MutexLock l(&mu_);
        auto& st = states_[src];
        st.rejected++;
        st.errors++;
        st.last_error = SanitizeUtf8(msg);
        st.last_error_time = std::chrono::system_clock::now();
      }
      if (observer_) observer_->OnRejected(src, mine);
    }
    if (!built && first) {
      std::vector<model::Problem> none;
      built = builder_.Build(world_, model::ChangeSet{}, &none);
    }
    if (!built) return;
  }
  {
    absl::MutexLock l(&mu_);
    last_stats_ = builder_.last_stats();
  }

  std::vector<std::string> reasons = held_reasons_;
  for (const auto& src : accepted) reasons.push_back(src + ": " + batch[src].reason);
  absl::Status gate = observer_ ? observer_->BeforePublish(*built, reasons) : absl::OkStatus();
  if (gate.ok()) {
    const auto published_at = std::chrono::steady_clock::now();
    built->build_seconds = std::chrono::duration<double>(published_at - build_start).count();
    cache_.SetAll(built->gateways, built->mesh, published_at);
    if (held_) spdlog::info("publishing again: the held configuration is released");
    held_ = false;
    held_reasons_.clear();
  } else {
    if (!held_) {
      spdlog::error("configuration not published, the last one keeps serving: {}", std::string(gate.message()));
    }
    held_ = true;
    held_reasons_ = reasons;
  }
  {
    absl::MutexLock l(&mu_);
    if (gate.ok()) {
      published_ = true;
      generation_++;
      blocked_.clear();
    } else {
      blocked_ = std::string(gate.message());
    }
    auto now = std::chrono::system_clock::now();
    for (const auto& src : accepted) {
      auto& st = states_[src];
      st.name = src;
      st.synced = true;
      st.updates++;
      st.last_sync = now;
      // last_error stays: operators want to see the most recent problem even after a later
      // success; whether it still applies is told by comparing the two times.
      st.last_reason = batch[src].reason;
    }
  }
  if (!gate.ok()) return;
  if (!reasons.empty()) {
    for (const auto& r : reasons) spdlog::info("configuration updated ({})", r);
  }
  if (observer_) observer_->OnPublished(*built, reasons);
}

bool Reconciler::Ready() const {
  absl::MutexLock l(&mu_);
  if (!published_ || !blocked_.empty()) return false;
  for (const auto& [n, st] : states_) {
    if (!st.synced) return false;
  }
  return true;
}

std::string Reconciler::PublishBlocked() const {
  absl::MutexLock l(&mu_);
  return blocked_;
}

std::vector<SourceState> Reconciler::Sources() const {
  absl::MutexLock l(&mu_);
  std::vector<SourceState> out;
  for (const auto& [n, st] : states_) out.push_back(st);
  return out;
}

BuildStats Reconciler::LastBuildStats() const {
  absl::MutexLock l(&mu_);
  return last_stats_;
}

uint64_t Reconciler::generation() const {
  absl::MutexLock l(&mu_);
  return generation_;
}

}  // namespace tern::server
