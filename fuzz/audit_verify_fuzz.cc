// `tern audit verify` (server/audit_verify.h) and AuditLog::Open read an audit log file: a file
// an operator, a disk error or an attacker may have changed. Each input line becomes a record
// whose hash the harness computes (so the fuzzer gets past the hash check to the JSON), unless
// the line starts with '!' (then it is written as it is). Verify must answer, never throw.
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz_input.h"
#include "server/audit_log.h"
#include "server/audit_verify.h"

namespace {
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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string file;
  for (const auto& line : tern::fuzz::SplitAll(text, "\n")) {
    if (!line.empty() && line[0] == '!') {
      file += line.substr(1) + "\n";
    } else {
      file += line + ",\"hash\":\"" + Sha256Hex(line) + "\"}\n";
    }
  }
  static const std::string path = "/tmp/tern-fuzz-audit-" + std::to_string(getpid()) + ".jsonl";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << file;
  }
  namespace audit = tern::server::audit;
  const audit::VerifyResult r = audit::VerifyAuditFiles({path}, {});
  FUZZ_CHECK((r.outcome == audit::VerifyResult::Outcome::kOk) == r.message.empty(),
             "a verdict without a message, or a message without a verdict: " + r.message);
  if (r.outcome == audit::VerifyResult::Outcome::kOk) {
    // A log that verifies can be extended: Open reads its last record.
    auto log = tern::server::AuditLog::Open({.path = path});
    FUZZ_CHECK(log.ok(), "a log that verifies cannot be opened: " + std::string(log.status().message()));
  }
  std::remove(path.c_str());
  return 0;
}
