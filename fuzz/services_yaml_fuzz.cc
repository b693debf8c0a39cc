// services.yaml (src/sources/file/yaml_decoder.h): any text decodes into a world or into
// problems with their location; yaml-cpp throws, the decoder must not.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "sources/file/yaml_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<tern::model::Problem> problems;
  auto decoded = tern::sources::file::DecodeServicesFile(text, "services.yaml", &problems);
  if (!decoded.ok()) FUZZ_CHECK(!decoded.status().message().empty() || !problems.empty(), "an error that says nothing");
  return 0;
}
