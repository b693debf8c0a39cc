#include "server/audit_verify.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace tern::server::audit {

namespace {

using Json = nlohmann::json;

bool GetU64(const Json& j, const char* key, uint64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return false;
  *out = it->get<uint64_t>();  // checked just above
  return true;
}

bool GetString(const Json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  *out = it->get<std::string>();  // checked just above
  return true;
}

// The record's JSON, or nullopt; never throws (invalid UTF-8 and bad syntax alike).
std::optional<Json> ParseObject(std::string_view line) {
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

struct File {
  std::string path;
  std::string content;
  bool has_records = false;  // a complete first line that parses with a seq
  uint64_t first_seq = 0;
};

class Verifier {
 public:
  explicit Verifier(const VerifyOptions& o) : o_(o) {}

  // Checks one complete line; false (and result_.message set) if it is bad.
  bool Line(const std::string& where, std::string_view line) {
    auto bad = [&](const std::string& why) {
      r_.outcome = VerifyResult::Outcome::kTampered;
      r_.message = where + ": " + why;
      return false;
    };
    std::string body, hash;
    if (!SplitLine(line, &body, &hash)) return bad("not an audit record (no hash)");
    if (Sha256Hex(body) != hash) return bad("hash does not match the record: the line was altered");
    std::optional<Json> j = ParseObject(line);
    if (!j) return bad("not valid JSON");
    uint64_t seq = 0;
    std::string prev;
    if (!GetU64(*j, "seq", &seq) || !GetString(*j, "prev", &prev)) return bad("missing seq or prev");
    if (r_.records == 0) {
      if (seq == 1 && prev != kGenesis) return bad("first record does not start the chain (prev is not genesis)");
      if (seq != 1 && !o_.allow_partial) {
        return bad("the trail starts at seq " + std::to_string(seq) + ", not 1: records 1.." +
                   std::to_string(seq - 1) + " are missing (cut from the front, or older files not given)");
      }
      r_.first_seq = seq;
      first_hash_ = hash;
    } else {
      if (seq != r_.last_seq + 1) {
        return bad("sequence number " + std::to_string(seq) + " where " + std::to_string(r_.last_seq + 1) +
                   " was expected: " + (seq > r_.last_seq ? "a record is missing" : "records are out of order"));
      }
      if (prev != r_.last_hash) return bad("does not chain to the previous record");
    }
    if (seq == 1) {
      r_.chain_start_seq = 1;
      r_.chain_start_hash = hash;
    }
    std::string kind;
    if (GetString(*j, "kind", &kind) && kind == "checkpoint") {
      if (!Checkpoint(*j, seq, prev, bad)) return false;
    } else {
      r_.unsigned_tail++;
    }
    r_.records++;
    r_.last_seq = seq;
    r_.last_hash = hash;
    return true;
  }

  VerifyResult& result() { return r_; }

 private:
  template <typename Bad>
  bool Checkpoint(const Json& j, uint64_t seq, const std::string& prev, Bad& bad) {
    CheckpointClaim c;
    std::string key_id, signature;
    if (!GetU64(j, "chain_start_seq", &c.chain_start_seq) || !GetString(j, "chain_start_hash", &c.chain_start_hash) ||
        !GetU64(j, "head_seq", &c.head_seq) || !GetString(j, "head_hash", &c.head_hash) ||
        !GetString(j, "key_id", &key_id) || !GetString(j, "signature", &signature)) {
      return bad("checkpoint is missing one of chain_start_seq, chain_start_hash, head_seq, head_hash, key_id, signature");
    }
    if (c.head_seq + 1 != seq || c.head_hash != prev) return bad("checkpoint does not sign the record before it");
    if (c.chain_start_seq == r_.first_seq && r_.records > 0 && c.chain_start_hash != first_hash_) {
      return bad("checkpoint names another first record (seq " + std::to_string(c.chain_start_seq) +
                 "): records were cut from the front or the chain was rebuilt");
    }
    if (c.chain_start_seq != r_.first_seq && !o_.allow_partial) {
      return bad("checkpoint says the chain starts at seq " + std::to_string(c.chain_start_seq) +
                 ", these files start at seq " + std::to_string(r_.first_seq));
    }
    if (o_.key) {
      if (key_id != o_.key->key_id()) {
        return bad("checkpoint signed by key " + key_id.substr(0, 32) + ", not by the given key " + o_.key->key_id());
      }
      if (!o_.key->Verify(CheckpointMessage(c), signature)) {
        return bad("checkpoint signature does not verify: the checkpoint is forged, or records before it were "
                   "altered and their hashes recomputed");
      }
    }
    r_.chain_start_seq = c.chain_start_seq;
    r_.chain_start_hash = c.chain_start_hash;
    r_.checkpoints++;
    r_.signed_through = seq;
    r_.unsigned_tail = 0;
    return true;
  }

  const VerifyOptions& o_;
  VerifyResult r_;
  std::string first_hash_;
};

}  // namespace

VerifyResult VerifyAuditFiles(const std::vector<std::string>& paths, const VerifyOptions& options) {
  VerifyResult fail;
  fail.outcome = VerifyResult::Outcome::kTampered;
  std::vector<File> files;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
      fail.message = p + ": cannot read";
      return fail;
    }
    File f{p, text.str()};
    size_t nl = f.content.find('\n');
    if (nl != std::string::npos) {
      if (auto j = ParseObject(std::string_view(f.content).substr(0, nl))) f.has_records = GetU64(*j, "seq", &f.first_seq);
      if (!f.has_records) {
        fail.message = p + ":1: not an audit record";
        return fail;
      }
    }
    files.push_back(std::move(f));
  }
  // By first seq; files with no complete line (empty, or only a torn first write) go last.
  std::stable_sort(files.begin(), files.end(), [](const File& a, const File& b) {
    if (a.has_records != b.has_records) return a.has_records;
    return a.first_seq < b.first_seq;
  });
  Verifier v(options);
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const File& f = files[fi];
    if (fi + 1 < files.size() && f.has_records && files[fi + 1].has_records && files[fi + 1].first_seq == f.first_seq) {
      fail.message = f.path + " and " + files[fi + 1].path + " both start at seq " + std::to_string(f.first_seq);
      return fail;
    }
    std::string_view text(f.content);
    size_t pos = 0;
    for (size_t lineno = 1; pos < text.size(); ++lineno) {
      size_t nl = text.find('\n', pos);
      const bool complete = nl != std::string_view::npos;
      std::string_view line = text.substr(pos, complete ? nl - pos : std::string_view::npos);
      const std::string where = f.path + ":" + std::to_string(lineno);
      std::string body, hash;
      // tern writes every record in one write starting with {"seq": ; a crash leaves a prefix of one.
      constexpr std::string_view kStart = "{\"seq\":";
      const size_t k = std::min(line.size(), kStart.size());
      if (!complete && !SplitLine(line, &body, &hash) && line.substr(0, k) == kStart.substr(0, k)) {
        // No newline and no complete hash member: the write was cut short.
        VerifyResult& r = v.result();
        if (fi + 1 == files.size()) {
          r.outcome = VerifyResult::Outcome::kTorn;
          r.message = where + ": torn last line (" + std::to_string(line.size()) +
                      " bytes without a newline): tern stopped while writing it; a crash artefact, not tampering";
          r.torn_file = f.path;
          r.torn_offset = pos;
        } else {
          r.outcome = VerifyResult::Outcome::kTampered;
          r.message = where + ": incomplete record at the end of a file that is not the newest";
        }
        r.files = files.size();
        return r;
      }
      if (!line.empty() && !v.Line(where, line)) {
        v.result().files = files.size();
        return v.result();
      }
      pos = complete ? nl + 1 : text.size();
    }
  }
  v.result().files = files.size();
  return v.result();
}

}  // namespace tern::server::audit
