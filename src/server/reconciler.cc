#include "server/reconciler.h"

#include <spdlog/spdlog.h>

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
  pending_[source] = Pending{std::move(fragment), std::move(reason)};
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

  // Try the whole batch; if the merged world is bad, find out which sources' updates are to
  // blame by applying them one by one, so that one bad source cannot hold back the others.
  auto try_build = [&](const std::map<std::string, sources::FragmentPtr>& frags,
                       std::vector<model::Problem>* problems) {
    // One source (the usual case) has nothing to merge: build from its fragment as it is
    // instead of copying the whole world.
    if (frags.size() == 1 && frags.begin()->second) return builder_.Build(*frags.begin()->second, problems);
    std::vector<const model::World*> parts;
    for (const auto& [n, f] : frags) parts.push_back(f.get());
    model::World world = model::Merge(parts, problems);
    if (!problems->empty()) return std::optional<BuiltSnapshots>();
    return builder_.Build(world, problems);
  };

  const auto build_start = std::chrono::steady_clock::now();
  std::map<std::string, sources::FragmentPtr> candidate = fragments_;
  for (auto& [src, p] : batch) candidate[src] = p.fragment;
  std::vector<model::Problem> problems;
  std::optional<BuiltSnapshots> built = try_build(candidate, &problems);
  std::vector<std::string> accepted;
  if (built) {
    for (auto& [src, p] : batch) accepted.push_back(src);
  } else {
    candidate = fragments_;
    for (auto& [src, p] : batch) {
      auto trial = candidate;
      trial[src] = p.fragment;
      std::vector<model::Problem> mine;
      if (auto b = try_build(trial, &mine)) {
        candidate = std::move(trial);
        built = std::move(b);
        accepted.push_back(src);
      } else {
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
    }
    if (!built && first) {
      std::vector<model::Problem> none;
      built = try_build(fragments_, &none);
    }
    if (!built) return;
  }

  fragments_ = std::move(candidate);
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

uint64_t Reconciler::generation() const {
  absl::MutexLock l(&mu_);
  return generation_;
}

}  // namespace tern::server
