#include "xds/stream_registry.h"

namespace tern::xds {

std::vector<StreamStatus> StreamRegistry::Statuses(const std::function<bool(const StreamIdentity&)>& want,
                                                   bool with_resources) const {
  std::vector<std::pair<StreamIdentity, std::shared_ptr<StreamInspector>>> picked;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, e] : streams_) {
      if (want(e.identity)) picked.emplace_back(e.identity, e.inspector);
    }
  }
  std::vector<StreamStatus> out;
  out.reserve(picked.size());
  for (auto& [identity, inspector] : picked) {
    StreamStatus s;
    static_cast<StreamIdentity&>(s.info) = std::move(identity);
    if (inspector) {
      StreamView view;
      if (!inspector->Inspect(&view, with_resources)) continue;  // ended meanwhile
      s.info.requests = view.requests;
      for (ResourceType t : kAdsOrder) {
        const TypeView& tv = view.types[static_cast<size_t>(t)];
        s.info.types[static_cast<size_t>(t)] = tv.info;
        if (!with_resources) continue;
        auto rs = ResourceStatuses(t, tv, view.latest.get());
        std::move(rs.begin(), rs.end(), std::back_inserter(s.resources));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tern::xds
