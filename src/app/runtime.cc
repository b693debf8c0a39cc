#include "app/runtime.h"

#include "sources/consul/consul_source.h"
#include "sources/file/file_source.h"
#include "sources/nomad/nomad_source.h"

namespace tern::app {

absl::StatusOr<Config> LoadConfigOrDefault(const std::string& path) {
  if (path.empty()) return DefaultConfig();
  return LoadConfig(path);
}

std::vector<std::unique_ptr<sources::Source>> MakeSources(const Config& config,
                                                          std::shared_ptr<prometheus::Registry> registry) {
  std::vector<std::unique_ptr<sources::Source>> out;
  if (!config.files.empty()) out.push_back(std::make_unique<sources::FileSource>("file", config.files));
  if (config.consul) {
    const ConsulConfig& c = *config.consul;
    sources::ConsulSource::Options o;
    o.address = c.address;
    o.datacenter = c.datacenter;
    o.token_file = c.token_file;
    o.token_env = c.token_env;
    o.consistency = c.consistency;
    o.watch_mode = c.watch == "per-service" ? sources::ConsulSource::WatchMode::kPerService
                   : c.watch == "aggregate" ? sources::ConsulSource::WatchMode::kAggregate
                                            : sources::ConsulSource::WatchMode::kAuto;
    o.sweep_interval = std::chrono::seconds(c.sweep_seconds);
    if (c.tls) {
      o.ca_file = c.tls->ca_file;
      o.cert_file = c.tls->cert_file;
      o.key_file = c.tls->key_file;
      o.server_name = c.tls->server_name;
    }
    o.tag_routing.fabio.gateways = c.fabio_gateways;
    o.tag_routing.fabio.port = c.fabio_port;
    o.tag_routing.canary.tag = c.canary_tag;
    o.tag_routing.canary.weight = c.canary_weight;
    o.registry = registry;
    out.push_back(std::make_unique<sources::ConsulSource>("consul", std::move(o)));
  }
  if (config.nomad) {
    const NomadConfig& n = *config.nomad;
    sources::NomadSource::Options o;
    o.address = n.address;
    o.token_file = n.token_file;
    o.token_env = n.token_env;
    o.namespace_name = n.namespace_name;
    o.region = n.region;
    o.canary = {.tag = n.canary_tag, .weight = n.canary_weight};
    o.event_stream = n.event_stream;
    if (n.tls) o.tls = {n.tls->ca_file, n.tls->cert_file, n.tls->key_file, n.tls->server_name};
    o.registry = registry;
    out.push_back(std::make_unique<sources::NomadSource>("nomad", std::move(o)));
  }
  return out;
}

std::optional<server::BuiltSnapshots> SyncAndBuild(const Config& config, std::vector<model::Problem>* problems) {
  auto srcs = MakeSources(config);
  std::vector<sources::FragmentPtr> frags;
  for (auto& s : srcs) {
    auto f = s->SyncOnce(problems);
    if (!f.ok()) {
      if (problems->empty()) problems->push_back({s->name(), std::string(f.status().message())});
      continue;
    }
    frags.push_back(*f);
  }
  if (!problems->empty()) return std::nullopt;
  std::vector<const model::World*> parts;
  for (const auto& f : frags) parts.push_back(f.get());
  model::World world = model::Merge(parts, problems);
  if (!problems->empty()) return std::nullopt;
  server::SnapshotBuilder builder;
  return builder.Build(world, problems);
}

}  // namespace tern::app
