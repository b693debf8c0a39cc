// PEM checks (src/sources/file/pem_check.h) on file contents and Consul's Connect CA answers.
// The input is "<cert>\n----8<----\n<key>"; each part goes through every check, then the pair.
// A key check's error never quotes the key.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sources/file/pem_check.h"

using namespace tern::sources::file;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parts = tern::fuzz::SplitAll(text, "\n----8<----\n");
  const std::string cert = parts[0];
  const std::string key = parts.size() > 1 ? parts[1] : parts[0];
  (void)CheckCertificateChain(cert);
  (void)CheckCaBundle(cert);
  auto k = CheckPrivateKey(key);
  if (!k.ok() && key.size() >= 16) {
    FUZZ_CHECK(std::string(k.message()).find(key) == std::string::npos, "a key error quotes the key");
  }
  (void)CheckKeyMatchesCertificate(cert, key);
  return 0;
}
