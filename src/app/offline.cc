// `tern render` and `tern validate`: the same sources, builder and checks as `serve`, run once.
#include <cstdio>

#include "admin/resource_json.h"
#include "app/admin_token.h"
#include "app/commands.h"
#include "app/runtime.h"
#include "server/audit_log.h"

namespace tern::app {

namespace {
void PrintProblems(const char* cmd, const std::vector<model::Problem>& problems) {
  for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
  std::fprintf(stderr, "tern %s: %zu problem%s\n", cmd, problems.size(), problems.size() == 1 ? "" : "s");
}
}  // namespace

int Render(const RenderArgs& args) {
  auto config = LoadConfigOrDefault(args.config);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  std::vector<model::Problem> problems;
  auto built = SyncAndBuild(*config, &problems);
  if (!built) {
    PrintProblems("render", problems);
    return 1;
  }
  auto it = built->gateways.find(args.node_cluster);
  const cache::Snapshot& snap = it != built->gateways.end() ? *it->second : *built->mesh;
  auto json = admin::SnapshotToJson(snap, args.node_cluster, args.type, args.reveal_secrets);
  if (!json.ok()) {
    std::fprintf(stderr, "tern render: %s\n", std::string(json.status().message()).c_str());
    return 1;
  }
  std::fwrite(json->data(), 1, json->size(), stdout);
  return 0;
}

int Validate(const std::string& config_path) {
  auto config = LoadConfigOrDefault(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  std::vector<model::Problem> problems;
  auto built = SyncAndBuild(*config, &problems);
  // What `serve` reads at start and refuses to run without.
  if (!config->admin.token_file.empty()) {
    if (auto token = ReadAdminToken(config->admin.token_file); !token.ok()) {
      problems.push_back({config_path, std::string(token.status().message())});
    }
  }
  if (!built || !problems.empty()) {
    PrintProblems("validate", problems);
    return 1;
  }
  size_t resources = built->mesh->size();
  for (const auto& [n, s] : built->gateways) resources += s->size();
  std::printf("ok: %zu gateway(s), %zu resources in all snapshots\n", built->gateways.size(), resources);
  return 0;
}

int AuditVerify(const std::string& path) {
  size_t records = 0;
  absl::Status st = server::AuditLog::Verify(path, &records);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("ok: %zu records, chain intact\n", records);
  return 0;
}

}  // namespace tern::app
