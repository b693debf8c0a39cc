#include "server/audit_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server/audit_verify.h"

namespace tern::server {

namespace {

namespace fs = std::filesystem;
using OJson = nlohmann::ordered_json;

// Proxy-supplied strings are bounded so that one proxy cannot make a record huge.
constexpr size_t kMaxField = 2048;

std::string Bounded(const std::string& s) { return s.size() <= kMaxField ? s : s.substr(0, kMaxField) + "..."; }

// An object's members as JSON text (",\"a\":1,\"b\":2"), or "" for an empty object. Bytes that
// are not UTF-8 (a proxy's node id, a NACK's error detail) are replaced, never thrown on.
std::string Members(const OJson& j) {
  if (j.empty()) return "";
  std::string s = j.dump(-1, ' ', false, OJson::error_handler_t::replace);
  return "," + s.substr(1, s.size() - 2);
}

const char* GrpcCodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

const char* KindName(xds::ProxyEvent::Kind k) {
  switch (k) {
    case xds::ProxyEvent::Kind::kConnect: return "proxy_connect";
    case xds::ProxyEvent::Kind::kDisconnect: return "proxy_disconnect";
    case xds::ProxyEvent::Kind::kAck: return "proxy_ack";
    case xds::ProxyEvent::Kind::kNack: return "proxy_nack";
  }
  return "proxy";
}

// Rotated files are PATH.1, PATH.2, ...: their numbers, ascending.
std::vector<uint64_t> RotatedNumbers(const std::string& path) {
  std::vector<uint64_t> out;
  fs::path p(path);
  const std::string prefix = p.filename().string() + ".";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string digits = name.substr(prefix.size());
    if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    out.push_back(std::stoull(digits));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Rotated(const std::string& path, uint64_t n) { return path + "." + std::to_string(n); }

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string();
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError("cannot read audit log " + path);
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(AuditLogOptions options) {
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options)));
  if (!log->options_.signing_key_file.empty()) {
    auto signer = audit::Signer::FromPemFile(log->options_.signing_key_file);
    if (!signer.ok()) return absl::InvalidArgumentError("audit.signing_key_file: " + std::string(signer.status().message()));
    log->signer_ = std::move(*signer);
    struct stat st{};
    if (::stat(log->options_.signing_key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      spdlog::warn("audit.signing_key_file {} is readable by group or others (mode {:o}); chmod 600 it",
                   log->options_.signing_key_file, st.st_mode & 0777);
    }
    spdlog::info("audit checkpoints signed by key {}", log->signer_->key_id());
  }
  if (absl::Status st = log->Resume(); !st.ok()) return st;
  // The log exists from the start (an operator, a shipper or a file-integrity monitor looks for it
  // before the first change), and a path that cannot be written is found now, not at the first record.
  if (int fd = ::open(log->options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640); fd >= 0) {
    ::close(fd);
  } else {
    return absl::UnavailableError("cannot open audit log " + log->options_.path + " for appending: " +
                                  std::strerror(errno));
  }
  if (log->options_.copy_to == AuditLogOptions::CopyTo::kSyslog) openlog("tern-audit", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
  log->writer_ = std::thread([l = log.get()] { l->WriterLoop(); });
  return log;
}

AuditLog::~AuditLog() { Close(); }

absl::Status AuditLog::Resume() {
  absl::MutexLock l(&mu_);
  const std::string& path = options_.path;
  std::vector<uint64_t> rotated = RotatedNumbers(path);
  next_rotation_ = rotated.empty() ? 1 : rotated.back() + 1;

  auto content = ReadAll(path);
  if (!content.ok()) return content.status();
  // A last line without its newline: tern stopped while writing it. Set the bytes aside (they
  // are evidence), cut them from the log and say so in the chain, so the log verifies again.
  if (!content->empty() && content->back() != '\n') {
    size_t start = content->rfind('\n');
    start = start == std::string::npos ? 0 : start + 1;
    std::string torn = content->substr(start);
    std::string body, hash;
    const std::string_view start_of_record = "{\"seq\":";
    const size_t k = std::min(torn.size(), start_of_record.size());
    if (torn.compare(0, k, start_of_record.substr(0, k)) != 0) {
      // Not what a crash of tern leaves behind: let verification below refuse the file.
    } else if (audit::SplitLine(torn, &body, &hash)) {
      // A whole record that only lacks its newline: complete it.
      std::ofstream out(path, std::ios::app | std::ios::binary);
      out << "\n";
      if (!out) return absl::UnavailableError("cannot repair audit log " + path);
      content->push_back('\n');
    } else {
      fs::path p(path);
      const std::string saved =
          (p.parent_path() / ("torn-" + std::to_string(audit::NowMillis()) + "-" + p.filename().string())).string();
      {
        std::ofstream out(saved, std::ios::binary);
        out << torn;
        if (!out) return absl::UnavailableError("cannot save the torn last line of " + path + " to " + saved);
      }
      std::error_code ec;
      fs::resize_file(path, start, ec);
      if (ec) return absl::UnavailableError("cannot cut the torn last line of " + path + ": " + ec.message());
      content->resize(start);
      recovery_fields_ = Members(OJson{{"torn_bytes", torn.size()},
                                       {"torn_sha256", audit::Sha256Hex(torn)},
                                       {"saved_to", saved}});
      spdlog::warn("audit log {}: its last line was torn ({} bytes, a crash mid-write); moved to {}; "
                   "a recovery record says so", path, torn.size(), saved);
    }
  }
  std::string resume_from;
  if (!content->empty()) resume_from = path;
  else if (!rotated.empty()) resume_from = Rotated(path, rotated.back());
  file_bytes_ = content->size();
  if (resume_from.empty()) return absl::OkStatus();  // a new chain

  audit::VerifyResult r = audit::VerifyAuditFiles({resume_from}, {.allow_partial = true});
  if (r.outcome != audit::VerifyResult::Outcome::kOk) {
    return absl::FailedPreconditionError("audit log " + resume_from + " does not verify, refusing to extend it: " +
                                         r.message);
  }
  seq_ = r.last_seq;
  prev_ = r.last_hash;
  since_checkpoint_ = r.unsigned_tail;
  chain_start_seq_ = r.chain_start_seq;
  chain_start_hash_ = r.chain_start_hash;
  if (chain_start_hash_.empty()) {
    // Neither record 1 nor a checkpoint in the newest file: look for record 1 in the rotated ones.
    for (uint64_t n : rotated) {
      auto first = audit::VerifyAuditFiles({Rotated(path, n)}, {.allow_partial = true});
      if (first.chain_start_seq == 1 && !first.chain_start_hash.empty()) {
        chain_start_seq_ = 1;
        chain_start_hash_ = first.chain_start_hash;
        break;
      }
    }
  }
  if (chain_start_hash_.empty() && signer_) {
    spdlog::warn("audit log {}: the chain's first record is not among the files here; checkpoints will name the "
                 "oldest record available (seq {})", path, r.first_seq);
    audit::VerifyResult oldest = audit::VerifyAuditFiles({rotated.empty() ? resume_from : Rotated(path, rotated.front())},
                                                         {.allow_partial = true});
    chain_start_seq_ = oldest.first_seq;
    chain_start_hash_ = oldest.chain_start_hash;
  }
  return absl::OkStatus();
}

AuditLog::Published AuditLog::ByNodeCluster(const BuiltSnapshots& s) {
  Published out = s.gateways;
  if (s.mesh) out["*"] = s.mesh;
  return out;
}

namespace {
// Calls `each(name, action, version)` for what differs in one type between two snapshots, in name
// order: from the changes the newer one records when it was derived from the older one (O(what
// changed)), else by walking both sets side by side.
template <typename F>
void DiffType(const cache::TypeSet* before, const cache::TypeSet& now, F each) {
  static const cache::TypeSet kEmpty;
  const cache::TypeSet& old = before ? *before : kEmpty;
  if (before && old.version == now.version) return;
  if (before && now.changes.known && now.changes.from_version == old.version) {
    for (const auto& name : now.changes.updated) {
      const cache::ResourcePtr* r = now.resources.Lookup(name);
      if (!r) continue;
      const cache::ResourcePtr* o = old.resources.Lookup(name);
      if (o && (*o)->version == (*r)->version) continue;
      each(name, o ? "changed" : "added", &(*r)->version);
    }
    return;
  }
  auto o = old.resources.begin();
  for (const auto& [name, r] : now.resources) {
    while (o != old.resources.end() && o->first < name) ++o;
    if (o == old.resources.end() || o->first != name) each(name, "added", &r->version);
    else if (o->second->version != r->version) each(name, "changed", &r->version);
  }
}

template <typename F>
void RemovedFrom(const cache::TypeSet& old, const cache::TypeSet* now, F each) {
  if (!now) {
    for (const auto& [name, r] : old.resources) each(name);
    return;
  }
  if (old.version == now->version) return;
  if (now->changes.known && now->changes.from_version == old.version) {
    for (const auto& name : now->changes.removed) each(name);
    return;
  }
  for (const auto& [name, r] : old.resources) {
    if (!now->resources.contains(name)) each(name);
  }
}
}  // namespace

absl::Status AuditLog::BeforePublish(const BuiltSnapshots& snapshots, const std::vector<std::string>& reasons) {
  absl::MutexLock l(&mu_);
  Published now = ByNodeCluster(snapshots);
  OJson changes = OJson::array();
  auto describe = [&](const std::string& nc, const std::string& type, const std::string& name, const char* action,
                      const std::string* version) {
    OJson c = {{"node_cluster", nc}, {"type", type}, {"name", name}, {"action", action}};
    if (version) c["version"] = *version;
    changes.push_back(std::move(c));
  };
  // Additions and changes, then removals; each by node cluster, type and name.
  for (const auto& entry : now) {
    const std::string& nc = entry.first;  // not a structured binding: captured below (clang 14)
    const cache::SnapshotPtr& snap = entry.second;
    auto prev = last_.find(nc);
    const cache::Snapshot* before = prev == last_.end() ? nullptr : prev->second.get();
    if (before == snap.get()) continue;
    for (ResourceType t : kAdsOrder) {
      const std::string type(ShortName(t));
      DiffType(before ? &before->Get(t) : nullptr, snap->Get(t),
               [&](const std::string& name, const char* action, const std::string* v) { describe(nc, type, name, action, v); });
    }
  }
  for (const auto& entry : last_) {
    const std::string& nc = entry.first;
    const cache::SnapshotPtr& snap = entry.second;
    auto cur = now.find(nc);
    if (cur != now.end() && cur->second == snap) continue;
    for (ResourceType t : kAdsOrder) {
      const std::string type(ShortName(t));
      RemovedFrom(snap->Get(t), cur == now.end() ? nullptr : &cur->second->Get(t),
                  [&](const std::string& name) { describe(nc, type, name, "removed", nullptr); });
    }
  }
  if (changes.empty()) {  // the same configuration again: nothing happened
    last_ = std::move(now);
    return absl::OkStatus();
  }
  OJson fields = {{"reasons", reasons}, {"changes", std::move(changes)}};
  absl::Status st = WriteRecordLocked("config", audit::NowMillis(), Members(fields));
  if (st.ok()) {
    last_ = std::move(now);  // on failure the next record still carries these changes
    return st;
  }
  if (!options_.fail_closed) return absl::OkStatus();  // fail-open: published anyway, logged and counted
  return absl::UnavailableError("audit log cannot be written (" + std::string(st.message()) +
                                "): configuration changes are held back until it can (audit.on_failure: fail-closed)");
}

void AuditLog::RecordProxy(const xds::ProxyEvent& event) {
  absl::MutexLock l(&queue_mu_);
  if (stop_) return;
  if (queue_.size() >= options_.proxy_queue_limit) {
    dropped_unreported_++;
    dropped_total_++;
    queue_cv_.Signal();  // the writer records the gap
    return;
  }
  queue_.push_back(Queued{event, audit::NowMillis()});
  queue_cv_.Signal();
}

void AuditLog::WriterLoop() {
  for (;;) {
    std::deque<Queued> batch;
    uint64_t dropped = 0;
    {
      absl::MutexLock l(&queue_mu_);
      while (!stop_ && queue_.empty() && dropped_unreported_ == 0) queue_cv_.Wait(&queue_mu_);
      if (queue_.empty() && dropped_unreported_ == 0 && stop_) return;
      batch.swap(queue_);
      dropped = dropped_unreported_;
      dropped_unreported_ = 0;
      in_progress_ = batch.size() + (dropped ? 1 : 0);
    }
    {
      absl::MutexLock l(&mu_);
      for (const auto& q : batch) (void)WriteRecordLocked(KindName(q.event.kind), q.time_ms, ProxyFields(q));
      if (dropped > 0) {
        // The gap is itself on the record.
        (void)WriteRecordLocked("proxy_dropped", audit::NowMillis(), Members(OJson{{"count", dropped}}));
      }
    }
    {
      absl::MutexLock l(&queue_mu_);
      in_progress_ = 0;
    }
    queue_cv_.SignalAll();
  }
}

void AuditLog::Drain() {
  absl::MutexLock l(&queue_mu_);
  while (!stop_ && !(queue_.empty() && in_progress_ == 0 && dropped_unreported_ == 0)) queue_cv_.Wait(&queue_mu_);
}

void AuditLog::Close() {
  {
    absl::MutexLock l(&queue_mu_);
    if (closed_) return;
    closed_ = true;
    stop_ = true;
  }
  queue_cv_.SignalAll();
  if (writer_.joinable()) writer_.join();
  absl::MutexLock l(&mu_);
  if (signer_ && since_checkpoint_ > 0) (void)CheckpointLocked();
  if (options_.copy_to == AuditLogOptions::CopyTo::kSyslog) closelog();
}

std::string AuditLog::ProxyFields(const Queued& q) const {
  const xds::ProxyEvent& e = q.event;
  OJson j;
  j["node_id"] = Bounded(e.node_id);
  j["node_cluster"] = Bounded(e.node_cluster);
  j["identity"] = Bounded(e.identity);
  j["peer"] = e.peer;
  j["stream"] = e.stream_id;
  j["service"] = e.service;
  j["protocol"] = e.delta ? "delta" : "sotw";
  if (e.kind == xds::ProxyEvent::Kind::kAck || e.kind == xds::ProxyEvent::Kind::kNack) {
    j["type"] = e.type ? std::string(ShortName(*e.type)) : "";
    j["version"] = Bounded(e.version);
    j["nonce"] = Bounded(e.nonce);
  }
  if (e.kind == xds::ProxyEvent::Kind::kNack) {
    j["error"] = Bounded(e.error);
    j["error_code"] = e.error_code;
  }
  if (e.kind == xds::ProxyEvent::Kind::kDisconnect) {
    j["duration_ms"] = e.duration.count();
    j["grpc_status"] = GrpcCodeName(e.grpc_code);
    j["grpc_message"] = Bounded(e.grpc_message);
  }
  return Members(j);
}

absl::Status AuditLog::WriteRecordLocked(std::string_view kind, int64_t time_ms, const std::string& fields) {
  if (!recovery_fields_.empty() && kind != "recovery") {
    // Taken out before writing: the recovery record's own checkpoint or rotation (AfterWriteLocked)
    // writes records too, and must not write the recovery record again (that recursed without end
    // when tern restarted on a torn log that was already at its rotation size).
    std::string recovery = std::move(recovery_fields_);
    recovery_fields_.clear();
    if (absl::Status st = WriteRecordLocked("recovery", audit::NowMillis(), recovery); !st.ok()) {
      recovery_fields_ = std::move(recovery);  // written before the next record instead
      return st;
    }
  }
  std::string body = "{\"seq\":" + std::to_string(seq_ + 1) + ",\"time\":\"" + audit::FormatTime(time_ms) +
                     "\",\"kind\":\"" + std::string(kind) + "\"" + fields + ",\"prev\":\"" + prev_ + "\"";
  std::string hash;
  std::string line = audit::SealLine(body, &hash);
  absl::Status st = AppendLocked(line);
  if (options_.on_write) options_.on_write(kind, st.ok());
  if (!st.ok()) {
    write_failures_++;
    if (!failing_) spdlog::error("audit log {}: {} record not written: {}", options_.path, kind, std::string(st.message()));
    failing_ = true;
    return st;
  }
  if (failing_) spdlog::info("audit log {}: writing again", options_.path);
  failing_ = false;
  seq_++;
  prev_ = hash;
  if (seq_ == 1) {
    chain_start_seq_ = 1;
    chain_start_hash_ = hash;
  }
  if (options_.copy_to == AuditLogOptions::CopyTo::kStdout) {
    std::string out = line + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else if (options_.copy_to == AuditLogOptions::CopyTo::kSyslog) {
    syslog(LOG_NOTICE, "%s", line.c_str());
  }
  if (kind == "checkpoint") return st;
  since_checkpoint_++;
  AfterWriteLocked();
  return st;
}

void AuditLog::AfterWriteLocked() {
  if (signer_ && since_checkpoint_ >= options_.checkpoint_every) (void)CheckpointLocked();
  if (options_.max_file_bytes == 0 || file_bytes_ < options_.max_file_bytes) return;
  // Each file ends signed, so a rotated file can be checked on its own up to its end.
  if (signer_ && since_checkpoint_ > 0 && !CheckpointLocked().ok()) return;  // retried after the next record
  const std::string to = Rotated(options_.path, next_rotation_);
  std::error_code ec;
  if (fs::exists(to, ec)) {
    spdlog::error("audit log {}: cannot rotate, {} exists", options_.path, to);
    return;
  }
  fs::rename(options_.path, to, ec);
  if (ec) {
    spdlog::error("audit log {}: cannot rotate to {}: {}", options_.path, to, ec.message());
    return;
  }
  spdlog::info("audit log rotated: {} (up to seq {})", to, seq_);
  next_rotation_++;
  file_bytes_ = 0;
}

absl::Status AuditLog::CheckpointLocked() {
  audit::CheckpointClaim c{.chain_start_seq = chain_start_seq_,
                           .chain_start_hash = chain_start_hash_,
                           .head_seq = seq_,
                           .head_hash = prev_};
  auto sig = signer_->Sign(audit::CheckpointMessage(c));
  if (!sig.ok()) return sig.status();
  OJson j = {{"chain_start_seq", c.chain_start_seq},
             {"chain_start_hash", c.chain_start_hash},
             {"head_seq", c.head_seq},
             {"head_hash", c.head_hash},
             {"key_id", signer_->key_id()},
             {"signature", *sig}};
  absl::Status st = WriteRecordLocked("checkpoint", audit::NowMillis(), Members(j));
  if (st.ok()) since_checkpoint_ = 0;
  return st;
}

absl::Status AuditLog::AppendLocked(const std::string& record) {
  const std::string line = record + "\n";
  int fd = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return absl::UnavailableError(options_.path + ": " + std::strerror(errno));
  struct stat st{};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const off_t before = regular ? st.st_size : 0;
  size_t done = 0;
  int err = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && ::close(fd) != 0) err = errno;
  else if (err != 0) {
    // Never leave half a line: the next record would follow it and break the chain.
    if (regular && done > 0 && ::ftruncate(fd, before) != 0) {
      spdlog::error("audit log {}: cannot cut a partial write", options_.path);
    }
    ::close(fd);
  }
  if (err != 0) return absl::UnavailableError(options_.path + ": " + std::strerror(err));
  file_bytes_ = static_cast<uint64_t>(before) + line.size();
  return absl::OkStatus();
}

}  // namespace tern::server
