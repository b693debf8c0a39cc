// PEM checks (src/sources/file/pem_check.h) on file contents and Consul's Connect CA answers.
// The input is "<cert>\n----8<----\n<key>"; each part goes through every check, then the pair.
// A key check's error never quotes key material: no run of 16 or more base64 characters of the
// key (what a PEM body is made of) appears in it. (The first invariant, "the error does not
// contain the whole key", was broken by a key that was itself a piece of the fixed error text:
// "alid PEM private ke". The fuzzer found it in its comparison table; nothing was quoted.)
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "sources/file/pem_check.h"

using namespace tern::sources::file;

namespace {

bool IsBase64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

// The first run of 16 or more base64 characters of `key` that `message` contains ("" if none).
std::string QuotedKeyMaterial(std::string_view key, std::string_view message) {
  size_t i = 0;
  while (i < key.size()) {
    if (!IsBase64(key[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < key.size() && IsBase64(key[j])) ++j;
    for (size_t k = i; j - k >= 16; ++k) {  // every 16-character window of the run
      if (message.find(key.substr(k, 16)) != std::string_view::npos) return std::string(key.substr(k, 16));
    }
    i = j;
  }
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parts = tern::fuzz::SplitAll(text, "\n----8<----\n");
  const std::string cert = parts[0];
  const std::string key = parts.size() > 1 ? parts[1] : parts[0];
  (void)CheckCertificateChain(cert);
  (void)CheckCaBundle(cert);
  auto k = CheckPrivateKey(key);
  if (!k.ok()) {
    const std::string quoted = QuotedKeyMaterial(key, std::string(k.message()));
    FUZZ_CHECK(quoted.empty(), "a key error quotes key material: " + quoted);
  }
  (void)CheckKeyMatchesCertificate(cert, key);
  return 0;
}
