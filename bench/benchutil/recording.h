#pragma once
// Responses recorded from tern by the load generator (`--record`), replayed byte for byte by the
// bare baseline server. One record = one response as received by the first stream of a node
// cluster, with the phase it arrived in: 0 = initial sync, k + 1 = during injected change k.
#include <cstdint>
#include <string>
#include <vector>

namespace tern::bench {

struct Recorded {
  uint32_t phase = 0;
  bool delta = false;
  std::string node_cluster;
  std::string type_url;
  std::string bytes;  // the serialized (Delta)DiscoveryResponse
};

bool WriteRecording(const std::string& path, const std::vector<Recorded>& records);
bool ReadRecording(const std::string& path, std::vector<Recorded>* records);

}  // namespace tern::bench
