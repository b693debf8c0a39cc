#include "xds/stream_registry.h"

namespace tern::xds {

std::vector<StreamStatus> StreamRegistry::Statuses(const std::function<bool(const StreamInfo&)>& want,
                                                   bool with_resources) const {
  std::vector<std::pair<StreamInfo, std::shared_ptr<StreamInspector>>> picked;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, e] : streams_) {
      if (want(e.info)) picked.emplace_back(e.info, e.inspector);
    }
  }
  std::vector<StreamStatus> out;
  out.reserve(picked.size());
  for (auto& [info, inspector] : picked) {
    StreamStatus s;
    s.info = std::move(info);
    if (with_resources && inspector) {
      StreamView view;
      if (!inspector->Inspect(&view)) continue;  // ended meanwhile
      for (ResourceType t : kAdsOrder) {
        const TypeView& tv = view.types[static_cast<size_t>(t)];
        // The type summary of the same moment as the resources, so that both agree.
        s.info.types[static_cast<size_t>(t)] = tv.info;
        auto rs = ResourceStatuses(t, tv, view.latest.get());
        std::move(rs.begin(), rs.end(), std::back_inserter(s.resources));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tern::xds
