#pragma once
// The admin API's bearer token (admin.token_file): read once at start. The token itself is never
// logged; errors name the file only.
#include <string>

#include "absl/status/statusor.h"

namespace tern::app {

// The file's content without surrounding whitespace (a trailing newline is usual). It must be
// non-empty, at most 4096 bytes, and only visible ASCII characters (RFC 6750 token characters
// are a subset): anything else is an error naming the file.
absl::StatusOr<std::string> ReadAdminToken(const std::string& path);

// A host:port that only this machine can reach (127.0.0.0/8, ::1, localhost).
bool IsLoopbackListenAddress(const std::string& host_port);

}  // namespace tern::app
