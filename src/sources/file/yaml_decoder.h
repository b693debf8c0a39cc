#pragma once
// services.yaml → model fragment. Pure: no I/O, no clock. The schema is documented field by field
// in docs/config.md.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"

namespace tern::sources::file {

// Decodes one services.yaml document. `file_label` names the file in every origin
// ("<file_label>:<line>:<col> <key path>"). On any problem the result is an error and
// `problems` (if not null) receives every problem found, not just the first.
absl::StatusOr<model::World> DecodeServicesYaml(const std::string& text,
                                                const std::string& file_label,
                                                std::vector<model::Problem>* problems);

}  // namespace tern::sources::file
