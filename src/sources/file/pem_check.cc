#include "sources/file/pem_check.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

namespace tern::sources::file {
namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// OpenSSL's default password callback prompts on the terminal; tern never asks.
int NoPassword(char*, int, int, void*) { return 0; }

bool HasPrivateKeyBlock(const std::string& pem) {
  return pem.find("PRIVATE KEY-----") != std::string::npos;
}

// Every certificate in `pem`, or an error when there is none or one is malformed.
absl::Status ReadCertificates(const std::string& pem, std::vector<X509Ptr>* out) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
    if (!cert) break;
    out->push_back(std::move(cert));
  }
  const unsigned long err = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (err != 0 && !clean_end) {
    return absl::InvalidArgumentError(out->empty() ? std::string("not a valid PEM certificate")
                                                   : "certificate " + std::to_string(out->size() + 1) +
                                                         " is not a valid PEM certificate");
  }
  if (out->empty()) return absl::InvalidArgumentError("no PEM certificate found");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckCertificateChain(const std::string& pem) {
  if (HasPrivateKeyBlock(pem)) {
    return absl::InvalidArgumentError("contains a private key; put it in key_file, not with the certificates");
  }
  std::vector<X509Ptr> certs;
  return ReadCertificates(pem, &certs);
}

absl::Status CheckPrivateKey(const std::string& pem) {
  if (pem.find("ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
    return absl::InvalidArgumentError("encrypted private keys are not supported");
  }
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  ERR_clear_error();  // OpenSSL's error text is not passed on: it is no help and could echo input
  if (!key) return absl::InvalidArgumentError("not a valid PEM private key");
  return absl::OkStatus();
}

absl::Status CheckKeyMatchesCertificate(const std::string& cert_pem, const std::string& key_pem) {
  std::vector<X509Ptr> certs;
  if (absl::Status st = ReadCertificates(cert_pem, &certs); !st.ok()) return st;
  BioPtr bio = MemBio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  const bool match = key && X509_check_private_key(certs.front().get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) return absl::InvalidArgumentError("private key does not match the certificate");
  return absl::OkStatus();
}

absl::Status CheckCaBundle(const std::string& pem) {
  if (HasPrivateKeyBlock(pem)) {
    return absl::InvalidArgumentError("contains a private key; a CA file holds certificates only");
  }
  std::vector<X509Ptr> certs;
  return ReadCertificates(pem, &certs);
}

}  // namespace tern::sources::file
