#pragma once
// The audit log's line format and its signatures, shared by the writer (AuditLog) and the
// verifier (VerifyAuditFiles).
//
// Every line is one JSON object, keys in this order, "hash" last:
//   {"seq":N,"time":"...","kind":"...", <kind's fields>, "prev":"<hash of record N-1>","hash":"<h>"}
// h = SHA-256 hex of the line's text up to (not including) the ,"hash" member. Record 1 has
// prev "genesis". A checkpoint record signs, with Ed25519, the chain's head (the seq and hash of
// the record before it) and the chain's start (seq and hash of its first record), so that a
// verifier holding the public key detects an edit whose hashes were recomputed, a forged
// checkpoint, and records cut from the front and renumbered.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tern::server::audit {

inline constexpr char kHashMarker[] = ",\"hash\":\"";
inline constexpr char kGenesis[] = "genesis";

std::string Sha256Hex(std::string_view s);
// UTC, millisecond precision: 2026-11-30T22:08:48.123Z
std::string FormatTime(int64_t unix_millis);
int64_t NowMillis();

// Splits a line into its hashed body and its recorded hash; false if it has no hash member.
bool SplitLine(std::string_view line, std::string* body, std::string* hash);
// The full line (no newline) for a body that ends just before the closing brace.
std::string SealLine(const std::string& body, std::string* hash);

// What a checkpoint signs.
struct CheckpointClaim {
  uint64_t chain_start_seq = 1;
  std::string chain_start_hash;
  uint64_t head_seq = 0;
  std::string head_hash;
};
std::string CheckpointMessage(const CheckpointClaim& c);

// An Ed25519 private key from a PEM file. Its bytes are never logged or put in a message.
class Signer {
 public:
  static absl::StatusOr<std::unique_ptr<Signer>> FromPemFile(const std::string& path);
  ~Signer();
  const std::string& key_id() const { return key_id_; }  // 16 hex digits of SHA-256(public key)
  absl::StatusOr<std::string> Sign(std::string_view message) const;  // base64

 private:
  Signer() = default;
  void* pkey_ = nullptr;  // EVP_PKEY*
  std::string key_id_;
};

// An Ed25519 public key from a PEM file (`openssl pkey -pubout`).
class SignatureChecker {
 public:
  static absl::StatusOr<std::unique_ptr<SignatureChecker>> FromPemFile(const std::string& path);
  ~SignatureChecker();
  const std::string& key_id() const { return key_id_; }
  bool Verify(std::string_view message, std::string_view signature_base64) const;

 private:
  SignatureChecker() = default;
  void* pkey_ = nullptr;  // EVP_PKEY*
  std::string key_id_;
};

}  // namespace tern::server::audit
