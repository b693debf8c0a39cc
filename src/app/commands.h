#pragma once
// The `tern` subcommands. main.cc parses the command line and calls one of these; each returns
// the process exit code.
#include <string>
#include <vector>

namespace tern::app {

struct RenderArgs {
  std::string config;  // "" = embedded default
  std::string node_cluster;
  std::string node_id;
  std::string type = "all";
  bool reveal_secrets = false;
};

struct BootstrapArgs {
  std::string node_cluster;
  std::string node_id;
  std::string xds = "127.0.0.1:18000";
  int admin_port = 9901;
  bool grpc = false;
  std::vector<std::string> metadata;  // "key=value": node.metadata (string values)
  // xDS over TLS (docs/operations.md): any of these turns TLS on; tls_ca is then required.
  std::string tls_ca;           // CA bundle that tern's certificate must chain to
  std::string tls_cert;         // client certificate (mTLS), with tls_key
  std::string tls_key;
  std::string tls_server_name;  // SNI and the name tern's certificate must carry (default: the --xds host)
};

int Serve(const std::string& config_path);
int Render(const RenderArgs& args);
int Validate(const std::string& config_path);
int Bootstrap(const BootstrapArgs& args);
// `tern audit verify FILE... [--public-key PEM]`: exit 0 when the trail verifies, 1 when it was
// tampered with (or cannot be read), 2 when its only flaw is a torn last line (a crash mid-write).
int AuditVerify(const std::vector<std::string>& files, const std::string& public_key_file);

}  // namespace tern::app
