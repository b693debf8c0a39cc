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
// A secret whose PEM text lives in files. Paths are as written in the YAML (relative ones are
// relative to the directory of the services.yaml); the decoder never opens them.
struct SecretFiles {
  std::string secret;  // the secret's name
  std::string origin;  // where the secret is declared
  std::string cert_file, key_file;  // a certificate secret (both set)
  std::string ca_file;              // a CA secret
};

struct DecodedServices {
  // `secrets` entries carry name, kind and origin; their PEM fields are empty until the caller
  // reads `secret_files`.
  model::World world;
  std::vector<SecretFiles> secret_files;
};

absl::StatusOr<DecodedServices> DecodeServicesFile(const std::string& text, const std::string& file_label,
                                                   std::vector<model::Problem>* problems);

// The world alone (secrets without their PEM), for callers that do not read files.
absl::StatusOr<model::World> DecodeServicesYaml(const std::string& text,
                                                const std::string& file_label,
                                                std::vector<model::Problem>* problems);

}  // namespace tern::sources::file
