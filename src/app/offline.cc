// `tern render` and `tern validate`: the same sources, builder and checks as `serve`, run once.
#include <cstdio>

#include "admin/resource_json.h"
#include "app/admin_token.h"
#include "app/commands.h"
#include "app/runtime.h"
#include "server/audit_verify.h"

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

int AuditVerify(const std::vector<std::string>& files, const std::string& public_key_file) {
  using server::audit::VerifyResult;
  std::unique_ptr<server::audit::SignatureChecker> key;
  if (!public_key_file.empty()) {
    auto k = server::audit::SignatureChecker::FromPemFile(public_key_file);
    if (!k.ok()) {
      std::fprintf(stderr, "tern audit verify: --public-key: %s\n", std::string(k.status().message()).c_str());
      return 1;
    }
    key = std::move(*k);
  }
  VerifyResult r = server::audit::VerifyAuditFiles(files, {.key = key.get()});
  if (r.outcome == VerifyResult::Outcome::kTampered) {
    std::fprintf(stderr, "%s\n", r.message.c_str());
    return 1;
  }
  if (key && r.records > 0 && r.checkpoints == 0) {
    std::fprintf(stderr, "no signed checkpoint in %zu records: nothing here is signed by key %s\n", r.records,
                 key->key_id().c_str());
    return 1;
  }
  std::printf("%s: %zu records in %zu file(s), seq %llu..%llu, chain intact\n",
              r.outcome == VerifyResult::Outcome::kOk ? "ok" : "ok up to the torn line", r.records, r.files,
              static_cast<unsigned long long>(r.first_seq), static_cast<unsigned long long>(r.last_seq));
  if (key) {
    std::printf("%zu checkpoint(s) verified with key %s; signed through seq %llu\n", r.checkpoints,
                key->key_id().c_str(), static_cast<unsigned long long>(r.signed_through));
    if (r.unsigned_tail > 0) {
      std::printf("warning: the last %zu record(s) come after the last checkpoint and are not signed yet\n",
                  r.unsigned_tail);
    }
  } else {
    std::printf("%zu checkpoint(s) found; signatures not checked (give --public-key)\n", r.checkpoints);
  }
  if (r.outcome == VerifyResult::Outcome::kTorn) {
    std::fprintf(stderr, "%s\n", r.message.c_str());
    return 2;
  }
  return 0;
}

}  // namespace tern::app
