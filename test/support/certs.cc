#include "support/certs.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace tern::testing {
namespace {

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

std::string ToPem(X509* cert) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  char* data;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, n);
  BIO_free(b);
  return out;
}

std::string ToPem(EVP_PKEY* key) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, n);
  BIO_free(b);
  return out;
}

X509* ParseCert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* c = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (!c) throw std::runtime_error("bad test certificate PEM");
  return c;
}

EVP_PKEY* ParseKey(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (!k) throw std::runtime_error("bad test key PEM");
  return k;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Pem Build(const CertSpec& spec, X509* issuer_cert, EVP_PKEY* issuer_key) {
  static long serial = 1000;
  EVP_PKEY* key = NewKey();
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial + time(nullptr));
  X509_gmtime_adj(X509_getm_notBefore(cert), spec.not_before_offset.count() * 3600L);
  X509_gmtime_adj(X509_getm_notAfter(cert), spec.not_after_offset.count() * 3600L);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                             -1, -1, 0);
  X509* issuer = issuer_cert ? issuer_cert : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer));
  if (spec.is_ca) {
    AddExt(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    AddExt(cert, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string sans;
  for (const auto& d : spec.dns_sans) sans += (sans.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& u : spec.uri_sans) sans += (sans.empty() ? "" : ",") + std::string("URI:") + u;
  if (!sans.empty()) AddExt(cert, issuer, NID_subject_alt_name, sans);
  AddExt(cert, issuer, NID_subject_key_identifier, "hash");
  X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256());
  Pem out{ToPem(cert), ToPem(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace

Pem MakeCa(const std::string& common_name) {
  CertSpec spec;
  spec.common_name = common_name;
  spec.is_ca = true;
  spec.not_after_offset = std::chrono::hours(24 * 365);
  return Build(spec, nullptr, nullptr);
}

Pem MakeCert(const CertSpec& spec, const Pem& issuer) {
  X509* ic = ParseCert(issuer.cert);
  EVP_PKEY* ik = ParseKey(issuer.key);
  Pem out = Build(spec, ic, ik);
  X509_free(ic);
  EVP_PKEY_free(ik);
  return out;
}

}  // namespace tern::testing
