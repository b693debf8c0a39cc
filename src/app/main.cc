// tern: an xDS control plane for Envoy on Consul and Nomad.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/commands.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"tern: an xDS control plane for Envoy, fed by Consul, Nomad and files"};
  app.require_subcommand(1);

  std::string serve_config;
  auto* serve = app.add_subcommand("serve", "run the control plane");
  serve->add_option("--config", serve_config, "YAML config file (default: embedded, xDS on 127.0.0.1:18000)");

  tern::app::RenderArgs render_args;
  auto* render = app.add_subcommand("render", "print the resources a proxy of a node cluster would receive now");
  render->add_option("--config", render_args.config, "YAML config file");
  render->add_option("--node-cluster", render_args.node_cluster, "node.cluster of the proxy")->required();
  render->add_option("--node-id", render_args.node_id, "node.id of the proxy");
  render->add_option("--type", render_args.type, "listener|route|cluster|endpoint|secret|virtual_host|all")
      ->check(CLI::IsMember({"listener", "route", "cluster", "endpoint", "secret", "virtual_host", "all"}));
  render->add_flag("--reveal-secrets", render_args.reveal_secrets, "print private keys instead of redacting them");

  std::string validate_config;
  auto* validate = app.add_subcommand("validate", "load config, sync sources once, build and check every snapshot");
  validate->add_option("--config", validate_config, "YAML config file");

  tern::app::BootstrapArgs boot;
  auto* bootstrap = app.add_subcommand("bootstrap", "print an Envoy bootstrap pointing at tern over ADS");
  bootstrap->add_option("--node-cluster", boot.node_cluster, "node.cluster (the gateway name)")->required();
  bootstrap->add_option("--node-id", boot.node_id, "node.id (this instance)")->required();
  bootstrap->add_option("--xds", boot.xds, "tern's xDS address host:port");
  bootstrap->add_option("--admin-port", boot.admin_port, "Envoy admin port");
  bootstrap->add_flag("--grpc", boot.grpc, "print a gRPC xDS bootstrap (JSON) for proxyless clients");
  bootstrap->add_option("--metadata", boot.metadata, "node metadata KEY=VALUE (repeatable)");
  bootstrap->add_option("--tls-ca", boot.tls_ca, "xDS over TLS: CA file that tern's certificate must chain to");
  bootstrap->add_option("--tls-cert", boot.tls_cert, "xDS over mTLS: client certificate file (with --tls-key)");
  bootstrap->add_option("--tls-key", boot.tls_key, "xDS over mTLS: client private key file (with --tls-cert)");
  bootstrap->add_option("--tls-server-name", boot.tls_server_name,
                        "xDS over TLS: SNI and the DNS name tern's certificate must carry (default: the --xds host)");

  std::vector<std::string> audit_files;
  std::string audit_public_key;
  auto* audit = app.add_subcommand("audit", "audit log tools");
  auto* audit_verify = audit->add_subcommand(
      "verify", "check the audit log's hash chain and signed checkpoints (exit 1: tampered, 2: torn last line)");
  audit_verify->add_option("FILE", audit_files, "the audit log and its rotated files (any order), e.g. audit.jsonl*")
      ->required();
  audit_verify->add_option("--public-key", audit_public_key, "Ed25519 public key (PEM) to check checkpoint signatures");
  audit->require_subcommand(1);

  auto* version = app.add_subcommand("version", "print the version");

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) return tern::app::Serve(serve_config);
  if (render->parsed()) return tern::app::Render(render_args);
  if (validate->parsed()) return tern::app::Validate(validate_config);
  if (bootstrap->parsed()) return tern::app::Bootstrap(boot);
  if (audit_verify->parsed()) return tern::app::AuditVerify(audit_files, audit_public_key);
  if (version->parsed()) {
    std::printf("tern %s\n", TERN_VERSION);
    return 0;
  }
  return 1;
}
