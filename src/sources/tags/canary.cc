#include "sources/tags/canary.h"

#include <algorithm>

namespace tern::sources::tags {
namespace {

bool Tagged(const model::Endpoint& ep, const std::string& tag) {
  return std::find(ep.tags.begin(), ep.tags.end(), tag) != ep.tags.end();
}

}  // namespace

std::optional<uint32_t> ParseCanaryPercent(const std::string& text) {
  if (text.empty() || text.size() > 3 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long v = std::stoul(text);
  if (v > 100) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<CanaryRouting> Canary(const model::Cluster& base, const CanaryOptions& options, const std::string& origin,
                                    std::vector<model::Problem>* problems) {
  if (options.tag.empty()) return std::nullopt;
  std::vector<model::Endpoint> canary, stable;
  for (const auto& ep : base.endpoints) (Tagged(ep, options.tag) ? canary : stable).push_back(ep);
  if (canary.empty() || stable.empty()) return std::nullopt;

  // The override: canary instances first (a new job version brings its own metadata).
  uint32_t weight = options.weight;
  for (const auto* set : {&canary, &stable}) {
    const model::Endpoint* with = nullptr;
    for (const auto& ep : *set) {
      if (ep.metadata.count(kCanaryWeightMeta)) {
        with = &ep;
        break;
      }
    }
    if (!with) continue;
    const std::string& text = with->metadata.at(kCanaryWeightMeta);
    if (auto w = ParseCanaryPercent(text)) {
      weight = *w;
    } else {
      problems->push_back({origin + " instance " + with->id + " meta " + kCanaryWeightMeta,
                           "'" + text + "' is not a whole percent in 0..100; using " + std::to_string(options.weight)});
    }
    break;
  }
  return SplitRouting(base, std::move(canary), std::move(stable), weight, origin,
                      origin + " instances tagged '" + options.tag + "'",
                      origin + " instances not tagged '" + options.tag + "'");
}

CanaryRouting SplitRouting(const model::Cluster& base, std::vector<model::Endpoint> canary,
                           std::vector<model::Endpoint> stable, uint32_t weight, const std::string& origin,
                           const std::string& canary_origin, const std::string& stable_origin) {
  CanaryRouting out;
  out.canary = base;
  out.stable = base;
  out.canary.name = base.service + "-canary";
  out.stable.name = base.service + "-stable";
  out.canary.endpoints = std::move(canary);
  out.stable.endpoints = std::move(stable);
  out.canary.origin = canary_origin;
  out.stable.origin = stable_origin;
  out.weight = weight;
  model::Route header;
  header.name = base.service + "/canary-header";
  header.origin = origin;
  header.match.headers.push_back({.name = kCanaryHeader, .match = {.kind = model::StringMatch::Kind::kExact, .value = "true"}});
  header.action.clusters = {{.cluster = out.canary.name, .weight = 1}};
  model::Route split;
  split.name = base.service + "/canary-split";
  split.origin = origin;
  split.action.clusters = {{.cluster = out.stable.name, .weight = 100 - out.weight},
                           {.cluster = out.canary.name, .weight = out.weight}};
  out.routes = {std::move(header), std::move(split)};
  return out;
}

}  // namespace tern::sources::tags
