#include "web/assets.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace lakepipe::web {
namespace {

// The file as it is in the source tree (tests run with the source root as working folder;
// LAKEPIPE_SOURCE_DIR says so explicitly under ctest).
std::string ReadSourceFile(const std::string& relative) {
  const char* root = std::getenv("LAKEPIPE_SOURCE_DIR");
  std::string path = (root ? std::string(root) + "/" : std::string()) + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Equal bytes; on a mismatch, says where instead of printing a megabyte of JavaScript.
void ExpectSameBytes(std::string_view embedded, const std::string& relative) {
  std::string source = ReadSourceFile(relative);
  if (embedded == source) return;
  size_t at = 0;
  while (at < embedded.size() && at < source.size() && embedded[at] == source[at]) ++at;
  ADD_FAILURE() << relative << ": embedded " << embedded.size() << " bytes, source " << source.size()
                << " bytes, first difference at byte " << at << " (rebuild lp_web?)";
}

TEST(FindAsset, RootIsTheIndexPageWithTheBytesOfTheSourceFile) {
  const Asset* root = FindAsset("/");
  ASSERT_NE(root, nullptr);
  const Asset* index = FindAsset("/index.html");
  ASSERT_EQ(root, index);
  EXPECT_EQ(index->path, "/index.html");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  ExpectSameBytes(index->data, "web/index.html");
}

TEST(FindAsset, PageScriptsAndStylesHaveTheirContentTypes) {
  const Asset* app = FindAsset("/assets/app.js");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->content_type, "text/javascript; charset=utf-8");
  ExpectSameBytes(app->data, "web/app.js");
  const Asset* style = FindAsset("/assets/style.css");
  ASSERT_NE(style, nullptr);
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
  ExpectSameBytes(style->data, "web/style.css");
}

TEST(FindAsset, ChartLibraryIsTheFileFromNodeModules) {
  const Asset* echarts = FindAsset("/assets/echarts.min.js");
  ASSERT_NE(echarts, nullptr);
  EXPECT_EQ(echarts->content_type, "text/javascript; charset=utf-8");
  ExpectSameBytes(echarts->data, "node_modules/echarts/dist/echarts.min.js");
  EXPECT_GT(echarts->data.size(), 100000u);
}

TEST(FindAsset, UnknownAndEscapingPathsAreNotFound) {
  EXPECT_EQ(FindAsset(""), nullptr);
  EXPECT_EQ(FindAsset("/nope.html"), nullptr);
  EXPECT_EQ(FindAsset("index.html"), nullptr);
  EXPECT_EQ(FindAsset("/../CMakeLists.txt"), nullptr);
  EXPECT_EQ(FindAsset("/index.html?x=1"), nullptr);
  EXPECT_EQ(FindAsset("/assets/../app.js"), nullptr);
  EXPECT_EQ(FindAsset("/app.js"), nullptr);
}

}  // namespace
}  // namespace lakepipe::web
