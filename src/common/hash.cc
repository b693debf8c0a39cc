#include "common/hash.h"

#include <openssl/evp.h>

#include <cstdint>

namespace tern {
namespace {
std::string Hex16(const unsigned char* digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}
}  // namespace

Hasher::Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Hasher::~Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Hasher::Add(std::string_view part) {
  uint64_t n = part.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), len, sizeof(len));
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), part.data(), part.size());
}

std::string Hasher::Finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len);
  return Hex16(digest);
}

std::string ContentHash(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex16(digest);
}

namespace {
void PutLen(EVP_MD_CTX* ctx, std::string_view part) {
  uint64_t n = part.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  EVP_DigestUpdate(ctx, len, sizeof(len));
  EVP_DigestUpdate(ctx, part.data(), part.size());
}
uint64_t Load64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

Digest128 PartsDigest(std::string_view a, std::string_view b) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  PutLen(ctx, a);
  PutLen(ctx, b);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  return {Load64(digest), Load64(digest + 8)};
}

Digest128 Add(Digest128 x, Digest128 y) {
  Digest128 out;
  out.lo = x.lo + y.lo;
  out.hi = x.hi + y.hi + (out.lo < x.lo ? 1 : 0);
  return out;
}

Digest128 Sub(Digest128 x, Digest128 y) {
  Digest128 out;
  out.lo = x.lo - y.lo;
  out.hi = x.hi - y.hi - (x.lo < y.lo ? 1 : 0);
  return out;
}

std::string DigestHex(Digest128 d, uint64_t count) {
  unsigned char bytes[24];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(d.hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<unsigned char>(d.lo >> (56 - 8 * i));
    bytes[16 + i] = static_cast<unsigned char>(count >> (56 - 8 * i));
  }
  return ContentHash(std::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace tern
