#pragma once
// Verifies an audit trail: one file or a rotated set (audit.jsonl.1, audit.jsonl.2, ...,
// audit.jsonl), given in any order; files are ordered by the seq of their first record.
//
// Rules (docs/operations.md, "Audit log"):
// - every line's hash matches its text, its seq is one more than the line before it (across
//   files), and its prev is that line's hash; the trail starts at seq 1 with prev "genesis"
//   (unless `allow_partial`, used by tern itself to resume a file whose predecessors may be gone);
// - every checkpoint signs the record before it and the chain's first record; with a public key,
//   its signature must verify and its key id match; without one, signatures are not checked;
// - the records after the last checkpoint are reported as not yet signed (that tail could be cut
//   without a trace; an edit inside it is still caught by the hash chain);
// - a last line without its newline that does not parse is a torn write (tern stopped while
//   writing it): reported as a crash artefact, not as tampering, when everything before verifies.
// Never throws, whatever the bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "server/audit_chain.h"

namespace tern::server::audit {

struct VerifyResult {
  enum class Outcome { kOk, kTampered, kTorn };
  Outcome outcome = Outcome::kOk;
  std::string message;          // the problem, "FILE:LINE: why"; "" when kOk
  size_t records = 0;           // records that verified
  size_t files = 0;
  uint64_t first_seq = 0, last_seq = 0;
  std::string last_hash;
  size_t checkpoints = 0;
  uint64_t signed_through = 0;  // seq of the newest record a checkpoint signs (0: none)
  size_t unsigned_tail = 0;     // records after the last checkpoint
  // Where to continue the chain (for tern resuming): the chain's start as the newest checkpoint
  // or record 1 says; empty hash if unknown.
  uint64_t chain_start_seq = 0;
  std::string chain_start_hash;
  // kTorn: the torn bytes' file and the offset where they start.
  std::string torn_file;
  uint64_t torn_offset = 0;
};

struct VerifyOptions {
  const SignatureChecker* key = nullptr;  // null: signatures are not checked
  bool allow_partial = false;             // the first record need not be seq 1
};

VerifyResult VerifyAuditFiles(const std::vector<std::string>& files, const VerifyOptions& options);

}  // namespace tern::server::audit
