#include "common/utf8.h"

#include <gtest/gtest.h>

namespace lakepipe {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii text, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));                // é
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC 12"));            // €
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));           // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));           // U+10FFFF
}

TEST(Utf8Test, FindsTheFirstBadByte) {
  EXPECT_EQ(FirstInvalidUtf8("caf\xE9"), 3u);             // Latin-1 é
  EXPECT_EQ(FirstInvalidUtf8("abcdefghij\x80"), 10u);     // lone continuation after ASCII run
  EXPECT_EQ(FirstInvalidUtf8("\xC0\xAF"), 0u);            // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("x\xED\xA0\x80"), 1u);       // surrogate U+D800
  EXPECT_EQ(FirstInvalidUtf8("\xF4\x90\x80\x80"), 0u);    // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("ok\xE2\x82"), 2u);          // truncated at the end
  EXPECT_EQ(FirstInvalidUtf8("\xFF"), 0u);
}

TEST(Utf8Test, RepairReplacesEachBadByteAndIsStable) {
  int64_t n = 0;
  std::string r = RepairUtf8("caf\xE9 \xC3\xA9 \xE2\x82", &n);
  EXPECT_EQ(r, "caf\xEF\xBF\xBD \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(n, 3);
  EXPECT_TRUE(IsValidUtf8(r));
  EXPECT_EQ(RepairUtf8(r, &n), r);
  EXPECT_EQ(n, 0);
}

TEST(Utf8Test, Hex) {
  std::string out;
  AppendHex("caf\xE9", &out);
  EXPECT_EQ(out, "636166e9");
}

}  // namespace
}  // namespace lakepipe
