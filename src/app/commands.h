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
int AuditVerify(const std::string& path);

}  // namespace tern::app
