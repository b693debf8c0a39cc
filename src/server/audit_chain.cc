#include "server/audit_chain.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

namespace tern::server::audit {

namespace {
std::string Hex(const unsigned char* d, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<std::string> KeyId(EVP_PKEY* pkey) {
  unsigned char raw[64];
  size_t len = sizeof(raw);
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1) return absl::InternalError("cannot read the public key");
  return Sha256Hex(std::string_view(reinterpret_cast<char*>(raw), len)).substr(0, 16);
}

// Reads a PEM key with `read`; the message names the file, never its content.
template <typename ReadFn>
absl::StatusOr<EVP_PKEY*> ReadEd25519(const std::string& path, const char* what, ReadFn read) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return absl::NotFoundError("cannot read " + std::string(what) + " file " + path);
  EVP_PKEY* pkey = read(f);
  std::fclose(f);
  if (!pkey) return absl::InvalidArgumentError(path + ": not an unencrypted PEM " + std::string(what));
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return absl::InvalidArgumentError(path + ": the " + std::string(what) +
                                      " is not an Ed25519 key (make one with `openssl genpkey -algorithm ed25519`)");
  }
  return pkey;
}
}  // namespace

std::string Sha256Hex(std::string_view s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  return Hex(d, n);
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(int64_t unix_millis) {
  std::time_t t = static_cast<std::time_t>(unix_millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03lldZ", buf, static_cast<long long>(unix_millis % 1000));
  return out;
}

bool SplitLine(std::string_view line, std::string* body, std::string* hash) {
  const size_t marker = sizeof(kHashMarker) - 1;
  size_t pos = line.rfind(kHashMarker);
  if (pos == std::string_view::npos || line.size() < pos + marker + 2 || line.substr(line.size() - 2) != "\"}") {
    return false;
  }
  *body = std::string(line.substr(0, pos));
  *hash = std::string(line.substr(pos + marker, line.size() - pos - marker - 2));
  return true;
}

std::string SealLine(const std::string& body, std::string* hash) {
  *hash = Sha256Hex(body);
  return body + kHashMarker + *hash + "\"}";
}

std::string CheckpointMessage(const CheckpointClaim& c) {
  return "tern-audit-checkpoint-v1\nchain_start_seq=" + std::to_string(c.chain_start_seq) +
         "\nchain_start_hash=" + c.chain_start_hash + "\nhead_seq=" + std::to_string(c.head_seq) +
         "\nhead_hash=" + c.head_hash + "\n";
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromPemFile(const std::string& path) {
  auto pkey = ReadEd25519(path, "private key",
                          [](FILE* f) {
                            // No passphrase callback: an encrypted key fails instead of prompting on a tty.
                            pem_password_cb* no_prompt = [](char*, int, int, void*) { return 0; };
                            return PEM_read_PrivateKey(f, nullptr, no_prompt, nullptr);
                          });
  if (!pkey.ok()) return pkey.status();
  std::unique_ptr<Signer> s(new Signer());
  s->pkey_ = *pkey;
  auto id = KeyId(*pkey);
  if (!id.ok()) return id.status();
  s->key_id_ = *id;
  return s;
}

Signer::~Signer() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

absl::StatusOr<std::string> Signer::Sign(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return absl::ResourceExhaustedError("out of memory");
  unsigned char sig[64];
  size_t len = sizeof(sig);
  bool ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_)) == 1 &&
            EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("Ed25519 signing failed");
  unsigned char b64[128];
  int n = EVP_EncodeBlock(b64, sig, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(b64), n);
}

absl::StatusOr<std::unique_ptr<SignatureChecker>> SignatureChecker::FromPemFile(const std::string& path) {
  auto pkey = ReadEd25519(path, "public key", [](FILE* f) { return PEM_read_PUBKEY(f, nullptr, nullptr, nullptr); });
  if (!pkey.ok()) return pkey.status();
  std::unique_ptr<SignatureChecker> c(new SignatureChecker());
  c->pkey_ = *pkey;
  auto id = KeyId(*pkey);
  if (!id.ok()) return id.status();
  c->key_id_ = *id;
  return c;
}

SignatureChecker::~SignatureChecker() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

bool SignatureChecker::Verify(std::string_view message, std::string_view signature_base64) const {
  // An Ed25519 signature is 64 bytes: 88 base64 characters with padding.
  if (signature_base64.size() != 88 || signature_base64.substr(86) != "==") return false;
  unsigned char sig[72];
  int n = EVP_DecodeBlock(sig, reinterpret_cast<const unsigned char*>(signature_base64.data()),
                          static_cast<int>(signature_base64.size()));
  if (n != 66) return false;  // 88 characters decode to 66 bytes, the last two being padding
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(pkey_)) == 1 &&
            EVP_DigestVerify(ctx, sig, 64, reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace tern::server::audit
