#pragma once
// tern.yaml: what tern listens on and which sources it watches. Documented field by field in
// docs/config.md. Secrets are never held here: only where to read them (a file or an env var),
// so a Config can be logged or shown in /debug output without leaking a token.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tern::app {

struct XdsTls {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // set: client certificates are verified against it
  bool require_client_cert = false;
  // With client certificates: the identity a proxy's certificate must carry (its CN or one of
  // its DNS/URI SANs), with {node_cluster} and {node_id} replaced from the proxy's node.
  std::string client_identity = "{node_cluster}";
};

struct XdsConfig {
  std::string address = "127.0.0.1:18000";
  std::optional<XdsTls> tls;  // absent: plaintext
};

struct AdminConfig {
  std::string address = "127.0.0.1:19000";
  // Set: `/` and `/debug/*` need `Authorization: Bearer <the file's content>` (docs/operations.md).
  std::string token_file;
};

struct ConsulTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
};

struct ConsulConfig {
  std::string address = "http://127.0.0.1:8500";
  std::string datacenter;  // "" = the agent's own
  std::string token_file;  // ACL token read from this file ...
  std::string token_env;   // ... or from this environment variable
  std::string consistency = "default";  // default | stale | consistent
  std::string watch = "auto";           // auto | per-service | aggregate (docs/consul.md "Connections")
  uint32_t sweep_seconds = 30;          // aggregate: least time between two re-reads of every service
  std::optional<ConsulTls> tls;
  // Routing from instance tags (docs/consul.md).
  std::vector<std::string> fabio_gateways;  // fabio_gateway: NAME or [NAME, ...]; empty = Fabio tags unused
  uint32_t fabio_port = 9999;               // the Fabio gateways' HTTP listener
  std::string canary_tag;                   // Nomad canary_tags value; "" = canaries off
  uint32_t canary_weight = 10;              // percent of a service's traffic to its canaries
};

struct NomadConfig {
  std::string address = "http://127.0.0.1:4646";
  std::string token_file;
  std::string token_env;
  std::string namespace_name;  // "" = Nomad's default namespace
  std::string region;
  std::string canary_tag;       // Nomad canary_tags value; "" = tag canaries off (docs/nomad.md)
  // Percent of a service's traffic to its canaries: tag canaries, and a deployment's canaries
  // unless the job's meta tern.canary_weight says otherwise.
  uint32_t canary_weight = 10;
  std::optional<ConsulTls> tls;  // nomad.tls: the same fields as consul.tls
  // nomad.event_stream: Nomad's event stream triggers the reads (false = blocking queries only).
  bool event_stream = true;
};

struct AuditConfig {
  std::string path;  // absolute once loaded
  uint64_t max_file_bytes = 0;      // rotate at this size (PATH → PATH.N); 0 = never
  std::string signing_key_file;     // Ed25519 private key (PEM) for checkpoints; "" = unsigned
  uint32_t checkpoint_every = 1000; // records between signed checkpoints
  std::string copy_to;              // "" | "stdout" | "syslog": a copy of every record
  bool fail_closed = true;          // on_failure: fail-closed (default) | fail-open
  bool proxy_events = true;         // record proxy connect/disconnect/ACK/NACK
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error
};

struct Config {
  XdsConfig xds;
  AdminConfig admin;
  std::optional<ConsulConfig> consul;  // present = Consul source enabled
  std::optional<NomadConfig> nomad;    // present = Nomad source enabled
  std::vector<std::string> files;      // absolute paths of services.yaml files
  std::optional<AuditConfig> audit;    // present = audit log enabled
  LogConfig log;
};

// xDS on 127.0.0.1:18000, admin on 127.0.0.1:19000, no sources.
Config DefaultConfig();

// Parses tern.yaml text. `label` names the file in problems ("<label>:<line>:<col> <path>");
// relative paths in the file (files, audit.path, token files, TLS files) are resolved against
// `base_dir`. On error the status message lists every problem, one per line.
absl::StatusOr<Config> ParseConfig(const std::string& text, const std::string& label,
                                   const std::string& base_dir);

// Reads and parses `path`; relative paths inside resolve against the file's directory.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace tern::app
