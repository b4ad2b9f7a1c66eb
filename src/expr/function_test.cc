#include "expr/function.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "expr/aggregate_functions.h"
#include "expr/test_util.h"
#include "testing/testing.h"

namespace lakepipe::expr {
namespace {

// Every word inside `...` spans of docs/functions.md, lower-cased ("\|" unescaped).
std::set<std::string> DocumentedNames() {
  std::ifstream in(testing::SourceDir() + "/docs/functions.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  std::set<std::string> names;
  size_t pos = 0;
  while ((pos = doc.find('`', pos)) != std::string::npos) {
    size_t end = doc.find('`', pos + 1);
    if (end == std::string::npos) break;
    std::string span = doc.substr(pos + 1, end - pos - 1);
    for (size_t k; (k = span.find("\\|")) != std::string::npos;) span.replace(k, 2, "|");
    std::string word;
    auto flush = [&] {
      if (!word.empty()) names.insert(word);
      word.clear();
    };
    for (char c : span) {
      if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '(' || c == ')' || c == '[' || c == ']') {
        flush();
      } else {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    flush();
    pos = end + 1;
  }
  return names;
}

TEST(FunctionRegistry, EveryRegisteredNameIsDocumented) {
  std::set<std::string> documented = DocumentedNames();
  ASSERT_GT(documented.size(), 50u) << "docs/functions.md not found or empty";
  std::vector<std::string> missing;
  for (const auto& name : SupportedFunctions()) {
    if (!documented.count(name)) missing.push_back(name);
  }
  EXPECT_TRUE(missing.empty()) << "not in docs/functions.md: " << ::testing::PrintToString(missing);
}

TEST(FunctionRegistry, AliasesResolveToOneEntry) {
  const auto& r = FunctionRegistry::Get();
  ASSERT_NE(r.Find("substr"), nullptr);
  EXPECT_EQ(r.Find("substr"), r.Find("substring"));
  EXPECT_EQ(r.Find("!="), r.Find("<>"));
  EXPECT_EQ(r.Find("no_such_function"), nullptr);
  for (const auto& name : r.Names()) {
    const ScalarFunction* f = r.Find(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_TRUE(f->kernel || f->lazy) << name;
    EXPECT_NE(f->bind, nullptr) << name;
  }
}

TEST(FunctionRegistry, BoundCallHoldsTheResolvedEntry) {
  Schema s = Schema::ParseDDL("a INT, d DATE").value();
  auto b = Bind(*test::Call("ucase", {test::Str("x")}), s);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->fn, FunctionRegistry::Get().Find("upper"));
  EXPECT_EQ(b->function, "upper");
  // date + int is rebound to date_add's entry.
  auto plus = Bind(*test::Call("+", {test::Col("d"), test::Col("a")}), s);
  ASSERT_TRUE(plus.ok()) << plus.status().ToString();
  EXPECT_EQ(plus->fn, FunctionRegistry::Get().Find("date_add"));
  EXPECT_EQ(plus->type, DataType::Date());
}

TEST(FunctionRegistry, WrongArityNamesTheCountsAndPosition) {
  Schema s = Schema::ParseDDL("a INT").value();
  auto e = Expr::Call("substring", {test::Col("a")}, SourcePos{2, 5});
  auto b = Bind(*e, s);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "2:5: function `substring` takes 2 to 3 arguments, got 1 in `substring(a)`");
  auto unknown = Bind(*Expr::Call("frobnicate", {}, SourcePos{1, 1}), s);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotSupported);
}

}  // namespace
}  // namespace lakepipe::expr
