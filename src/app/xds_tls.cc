#include "app/xds_tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

namespace tern::app {

namespace {
absl::StatusOr<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot read file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
}  // namespace

absl::Status CheckPemFiles(const std::string& cert_file, const std::string& key_file, const std::string& ca_file) {
  auto cert_pem = Slurp(cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = Slurp(key_file);
  if (!key_pem.ok()) return key_pem.status();
  std::unique_ptr<BIO, BioDeleter> cb(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  X509* cert = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr);
  if (!cert) return absl::InvalidArgumentError(cert_file + ": not a PEM certificate");
  std::unique_ptr<BIO, BioDeleter> kb(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr);
  if (!key) {
    X509_free(cert);
    return absl::InvalidArgumentError(key_file + ": not a PEM private key");
  }
  bool match = X509_check_private_key(cert, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!match) return absl::InvalidArgumentError(key_file + ": private key does not match " + cert_file);
  if (!ca_file.empty()) {
    auto ca_pem = Slurp(ca_file);
    if (!ca_pem.ok()) return ca_pem.status();
    std::unique_ptr<BIO, BioDeleter> ab(BIO_new_mem_buf(ca_pem->data(), static_cast<int>(ca_pem->size())));
    X509* ca = PEM_read_bio_X509(ab.get(), nullptr, nullptr, nullptr);
    if (!ca) return absl::InvalidArgumentError(ca_file + ": not a PEM certificate");
    X509_free(ca);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeXdsServerCredentials(const XdsTls& tls) {
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError("xds.tls needs cert_file and key_file");
  }
  if (auto st = CheckPemFiles(tls.cert_file, tls.key_file, tls.ca_file); !st.ok()) {
    return absl::InvalidArgumentError("xds.tls: " + std::string(st.message()));
  }
  // The provider re-reads the files every second: a rotated certificate is picked up by new
  // connections without a restart (a bad rewrite keeps the last good one).
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(tls.key_file, tls.cert_file,
                                                                                       tls.ca_file, 1);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.ca_file.empty()) options.watch_root_certs();
  if (tls.require_client_cert) {
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else if (!tls.ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace tern::app
