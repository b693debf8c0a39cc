#include "server/audit_log.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

namespace tern::server {

namespace {
constexpr char kHashMarker[] = ",\"hash\":\"";

std::string Sha256Hex(const std::string& s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 0xf]);
  }
  return out;
}

std::string Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

// Splits a line into its hashed body and its recorded hash.
bool SplitLine(const std::string& line, std::string* body, std::string* hash) {
  size_t pos = line.rfind(kHashMarker);
  if (pos == std::string::npos || line.size() < pos + sizeof(kHashMarker) + 1 || line.back() != '}') return false;
  *body = line.substr(0, pos);
  *hash = line.substr(pos + sizeof(kHashMarker) - 1, line.size() - pos - (sizeof(kHashMarker) - 1) - 2);
  return true;
}
}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  std::unique_ptr<AuditLog> log(new AuditLog());
  log->path_ = path;
  size_t records = 0;
  {
    std::ifstream in(path);
    if (in) {
      absl::Status st = Verify(path, &records);
      if (!st.ok()) {
        return absl::FailedPreconditionError("audit log " + path + " does not verify, refusing to extend it: " +
                                             std::string(st.message()));
      }
      std::string line, last;
      while (std::getline(in, line)) {
        if (!line.empty()) last = line;
      }
      if (!last.empty()) {
        auto j = nlohmann::json::parse(last);
        log->seq_ = j["seq"].get<uint64_t>();
        log->prev_ = j["hash"].get<std::string>();
      }
    }
  }
  log->out_.open(path, std::ios::app);
  if (!log->out_) return absl::UnavailableError("cannot open audit log " + path + " for appending");
  return log;
}

AuditLog::Versions AuditLog::Flatten(const BuiltSnapshots& s) {
  Versions out;
  auto add = [&](const std::string& nc, const cache::Snapshot& snap) {
    for (ResourceType t : kAdsOrder) {
      for (const auto& [name, r] : snap.Get(t).resources) {
        out[nc + "\t" + std::string(ShortName(t)) + "\t" + name] = r->version;
      }
    }
  };
  for (const auto& [nc, snap] : s.gateways) add(nc, *snap);
  if (s.mesh) add("*", *s.mesh);
  return out;
}

void AuditLog::OnPublished(const BuiltSnapshots& snapshots, const std::vector<std::string>& reasons) {
  std::lock_guard<std::mutex> l(mu_);
  Versions now = Flatten(snapshots);
  nlohmann::json changes = nlohmann::json::array();
  auto describe = [&](const std::string& key, const char* action, const std::string& version) {
    size_t a = key.find('\t'), b = key.find('\t', a + 1);
    nlohmann::json c = {{"node_cluster", key.substr(0, a)},
                        {"type", key.substr(a + 1, b - a - 1)},
                        {"name", key.substr(b + 1)},
                        {"action", action}};
    if (!version.empty()) c["version"] = version;
    changes.push_back(std::move(c));
  };
  for (const auto& [k, v] : now) {
    auto it = last_.find(k);
    if (it == last_.end()) describe(k, "added", v);
    else if (it->second != v) describe(k, "changed", v);
  }
  for (const auto& [k, v] : last_) {
    if (!now.contains(k)) describe(k, "removed", "");
  }
  last_ = std::move(now);
  if (changes.empty()) return;  // the same configuration again: nothing happened

  nlohmann::ordered_json rec;
  rec["seq"] = ++seq_;
  rec["time"] = Now();
  rec["reasons"] = reasons;
  rec["changes"] = changes;
  rec["prev"] = prev_;
  // Resource names come from sources (a YAML file may hold any bytes): never throw on them.
  std::string body = rec.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  body.pop_back();  // drop the closing brace: the hash covers the record up to here
  std::string hash = Sha256Hex(body);
  out_ << body << kHashMarker << hash << "\"}\n";
  out_.flush();
  if (!out_) spdlog::error("audit log {}: write failed", path_);
  prev_ = hash;
}

absl::Status AuditLog::Verify(const std::string& path, size_t* records) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path + ": cannot read");
  std::string line, prev = "genesis";
  uint64_t expect_seq = 0;
  size_t n = 0;
  bool first = true;
  for (size_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return absl::DataLossError(path + ":" + std::to_string(lineno) + ": " + why);
    };
    std::string body, hash;
    if (!SplitLine(line, &body, &hash)) return bad("not an audit record (no hash)");
    if (Sha256Hex(body) != hash) return bad("hash does not match the record: the line was altered");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      return bad("not valid JSON");
    }
    if (!j.contains("seq") || !j.contains("prev")) return bad("missing seq or prev");
    // The file is outside input: check the types before get<>() (which would throw on them).
    if (!j["seq"].is_number_unsigned() || !j["prev"].is_string()) return bad("seq is not a number or prev not a string");
    uint64_t seq = j["seq"].get<uint64_t>();
    if (!first && seq != expect_seq) return bad("sequence number " + std::to_string(seq) + " where " +
                                                std::to_string(expect_seq) + " was expected: a record is missing");
    if (!first && j["prev"].get<std::string>() != prev) return bad("does not chain to the previous record");
    if (first && seq == 1 && j["prev"].get<std::string>() != "genesis") return bad("first record does not start the chain");
    first = false;
    prev = hash;
    expect_seq = seq + 1;
    n++;
  }
  if (records) *records = n;
  return absl::OkStatus();
}

}  // namespace tern::server
