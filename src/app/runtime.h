#pragma once
// Wiring shared by the subcommands: config → sources → world → snapshots. The one place that
// names concrete source classes.
#include <memory>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "app/config.h"
#include "server/snapshot_builder.h"
#include "sources/source.h"

namespace tern::app {

absl::StatusOr<Config> LoadConfigOrDefault(const std::string& path);

// `registry`: where watching sources put their tern_<kind>_* series (serve's /metrics); none =
// each source has its own.
std::vector<std::unique_ptr<sources::Source>> MakeSources(const Config& config,
                                                          std::shared_ptr<prometheus::Registry> registry = nullptr);

// Syncs every source once and builds the snapshots (render, validate). Problems are collected.
std::optional<server::BuiltSnapshots> SyncAndBuild(const Config& config, std::vector<model::Problem>* problems);

}  // namespace tern::app
