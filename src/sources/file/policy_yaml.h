#pragma once
// Gateway traffic policy and telemetry in YAML (tracing, access logs, request ids, rate limits),
// read the same way wherever it appears in tern's files: on a gateway, on a listener, host or
// route, and in the top-level `defaults`. Each reader records every problem with its location
// and returns nullopt when the block is unusable. Keys and meanings: docs/config.md.
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "sources/file/yaml_reader.h"

namespace tern::sources::file {

std::optional<model::Tracing> ReadTracing(YamlContext& ctx, const YAML::Node& node, const std::string& path);
std::optional<std::vector<model::AccessLog>> ReadAccessLogs(YamlContext& ctx, const YAML::Node& node,
                                                            const std::string& path);
std::optional<model::RequestId> ReadRequestId(YamlContext& ctx, const YAML::Node& node, const std::string& path);
std::optional<model::RateLimit> ReadRateLimit(YamlContext& ctx, const YAML::Node& node, const std::string& path);

}  // namespace tern::sources::file
