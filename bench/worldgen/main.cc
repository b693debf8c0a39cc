// tern-worldgen: writes a synthetic services.yaml (and the variants a benchmark flips to).
//   tern-worldgen --out DIR --services S --instances I --gateways G --exposed K [--stride T] [--flips M]
// DIR/services.yaml is the base world (DIR/base.yaml a copy to switch back to); DIR/flip-<k>.yaml (k < M) is the base world with one
// instance of FlipService(k) critical. A benchmark changes the world by renaming a copy of a
// variant over services.yaml, one instance health flip at a time.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "worldgen.h"

namespace {
bool WriteFile(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}
}  // namespace

int main(int argc, char** argv) {
  tern::bench::WorldSpec spec;
  std::string out = ".";
  uint32_t flips = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    uint32_t v = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    if (k == "--out") out = argv[i + 1];
    else if (k == "--services") spec.services = v;
    else if (k == "--instances") spec.instances = v;
    else if (k == "--gateways") spec.gateways = v;
    else if (k == "--exposed") spec.exposed = v;
    else if (k == "--stride") spec.stride = v;
    else if (k == "--flips") flips = v;
    else {
      std::fprintf(stderr, "tern-worldgen: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (spec.services == 0) {
    std::fprintf(stderr, "tern-worldgen: --services must be > 0\n");
    return 2;
  }
  std::string base = tern::bench::ServicesYaml(spec);
  for (const char* name : {"/services.yaml", "/base.yaml"}) {
    if (!WriteFile(out + name, base)) {
      std::fprintf(stderr, "tern-worldgen: cannot write %s%s\n", out.c_str(), name);
      return 1;
    }
  }
  for (uint32_t k = 0; k < flips; ++k) {
    std::string path = out + "/flip-" + std::to_string(k) + ".yaml";
    if (!WriteFile(path, tern::bench::ServicesYaml(spec, tern::bench::FlipService(spec, k)))) {
      std::fprintf(stderr, "tern-worldgen: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::printf("wrote %s/services.yaml, base.yaml (%u services x %u instances, %u gateways x %u exposed) and %u variants\n",
              out.c_str(), spec.services, spec.instances, spec.gateways, spec.exposed, flips);
  return 0;
}
