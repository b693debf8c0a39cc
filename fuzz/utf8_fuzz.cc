// The UTF-8 sanitizer (src/common/utf8.h) that guards every JSON dump of outside text, checked
// against nlohmann::json itself: IsValidUtf8 agrees with the JSON parser, SanitizeUtf8 and
// TruncateUtf8 always give text that dump() accepts, leave valid text alone, and never grow
// a byte into more than one U+FFFD.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "common/utf8.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool valid = tern::IsValidUtf8(text);
  // The JSON parser's opinion: the text as a JSON string (escaping only '"', '\\' and controls).
  std::string quoted = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      quoted += buf;
    } else {
      quoted += static_cast<char>(c);
    }
  }
  quoted += '"';
  const bool json_valid = !nlohmann::json::parse(quoted, nullptr, false).is_discarded();
  FUZZ_CHECK(valid == json_valid, std::string("IsValidUtf8 says ") + (valid ? "valid" : "invalid") +
                                      ", the JSON parser disagrees");

  const std::string fixed = tern::SanitizeUtf8(text);
  FUZZ_CHECK(tern::IsValidUtf8(fixed), "SanitizeUtf8 left invalid UTF-8");
  if (valid) FUZZ_CHECK(fixed == text, "SanitizeUtf8 changed valid text");
  FUZZ_CHECK(fixed.size() <= 3 * text.size(), "SanitizeUtf8 grew the text more than 3x");
  try {
    (void)nlohmann::json(fixed).dump();
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("dump() threw on sanitized text: ") + e.what());
  }
  for (size_t max : {size_t{0}, size_t{1}, size_t{7}, size_t{200}, size / 2}) {
    const std::string cut = tern::TruncateUtf8(text, max);
    FUZZ_CHECK(tern::IsValidUtf8(cut), "TruncateUtf8 left invalid UTF-8");
    if (valid) {
      FUZZ_CHECK(cut.size() <= max || size <= max, "TruncateUtf8 kept more than asked");
      FUZZ_CHECK(text.compare(0, cut.size(), cut) == 0, "TruncateUtf8 of valid text is not a prefix");
      FUZZ_CHECK(cut.size() + 3 >= std::min(max, size), "TruncateUtf8 dropped more than one character");
    }
  }
  return 0;
}
