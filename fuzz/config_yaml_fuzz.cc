// tern.yaml (src/app/config.h): any text either parses into a Config or gives an error listing
// its problems. yaml-cpp throws; ParseConfig must not.
#include <cstdint>
#include <string>

#include "app/config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = tern::app::ParseConfig(text, "tern.yaml", "/nonexistent-fuzz-dir");
  if (!config.ok()) FUZZ_CHECK(!config.status().message().empty(), "an error without a message");
  return 0;
}
