// Outside text made safe to show as JSON: valid UTF-8 passes untouched, each ill-formed sequence
// becomes one U+FFFD, and a cut never splits a character.
#include "common/utf8.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tern {
namespace {

const std::string kR = "\xEF\xBF\xBD";  // U+FFFD

TEST(Utf8Test, ValidTextIsKeptByteForByte) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\xA6 plain";
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_EQ(SanitizeUtf8(text), text);
}

TEST(Utf8Test, Latin1StrayAndTruncatedBytesEachBecomeOneReplacementCharacter) {
  EXPECT_EQ(SanitizeUtf8("caf\xE9!"), "caf" + kR + "!");
  EXPECT_EQ(SanitizeUtf8("\xFF\xFE"), kR + kR);
  EXPECT_EQ(SanitizeUtf8("a\x80" "b"), "a" + kR + "b");
  EXPECT_EQ(SanitizeUtf8("euro \xE2\x82"), "euro " + kR);  // a truncated 3-byte character
  EXPECT_EQ(SanitizeUtf8("\xE2\x82(x"), kR + "(x");
}

TEST(Utf8Test, OverlongsSurrogatesAndCodePointsBeyondUnicodeAreInvalid) {
  for (const std::string bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << testing::PrintToString(bad);
    const std::string fixed = SanitizeUtf8(bad);
    EXPECT_TRUE(IsValidUtf8(fixed));
    EXPECT_NE(fixed.find(kR), std::string::npos);
  }
}

TEST(Utf8Test, TruncationStopsBeforeACharacterThatWouldBeSplit) {
  const std::string text = "ab\xE2\x82\xAC" "cd";  // a, b, euro, c, d
  EXPECT_EQ(TruncateUtf8(text, 3), "ab");
  EXPECT_EQ(TruncateUtf8(text, 4), "ab");
  EXPECT_EQ(TruncateUtf8(text, 5), "ab\xE2\x82\xAC");
  EXPECT_EQ(TruncateUtf8(text, 100), text);
  EXPECT_EQ(TruncateUtf8("\x80\x80\x80\x80\x80", 3), kR + kR + kR);
}

TEST(Utf8Test, WhatSanitizeReturnsIsAlwaysAcceptedByTheJsonLibrary) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string fixed = SanitizeUtf8(all + all);
  EXPECT_TRUE(IsValidUtf8(fixed));
  nlohmann::json j = fixed;
  EXPECT_NO_THROW(j.dump());
}

}  // namespace
}  // namespace tern
