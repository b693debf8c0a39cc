#pragma once
// Text that comes from outside (HTTP answers and errors from Consul or Nomad, file contents, the
// fields of xDS requests) is not guaranteed to be UTF-8, but everything tern shows it through is
// JSON (/debug/*, the audit log), and nlohmann::json refuses to dump invalid UTF-8 by throwing.
// Such text is therefore made valid where it is kept: every ill-formed sequence becomes U+FFFD
// (the replacement character), so an operator still sees the rest of the message.
//
// "Valid" is RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF;
// the same rules nlohmann::json applies when it parses.
#include <cstddef>
#include <string>
#include <string_view>

namespace tern {

bool IsValidUtf8(std::string_view text);

// `text` with each maximal ill-formed subsequence replaced by U+FFFD (valid text is returned as is).
std::string SanitizeUtf8(std::string_view text);

// At most `max_bytes` of `text`, cut at a character boundary (a cut never splits a multi-byte
// character into an invalid tail), then sanitized.
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

}  // namespace tern
