#include "sql/graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

namespace lakepipe::sql {
namespace {

using ::testing::HasSubstr;

std::vector<DatasetDefinition> Parse(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<DatasetDefinition> out;
  for (const auto& [name, sql] : files) {
    auto r = ParseSqlFile(std::make_shared<SourceFile>(name, sql), {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (auto& d : *r) out.push_back(std::move(d));
    }
  }
  return out;
}

std::vector<std::string> OrderNames(const PipelineGraph& g) {
  std::vector<std::string> names;
  for (size_t i : g.topological_order()) names.push_back(g.nodes()[i].name);
  return names;
}

TEST(GraphTest, TopologicalOrderPutsProducersFirst) {
  // Defined consumers first, across two files.
  auto defs = Parse({{"gold.sql",
                      "CREATE MATERIALIZED VIEW gold AS SELECT a FROM silver JOIN dim ON silver.k = dim.k;\n"
                      "CREATE MATERIALIZED VIEW dim AS SELECT k FROM silver;"},
                     {"silver.sql",
                      "CREATE STREAMING TABLE silver AS SELECT * FROM STREAM(LIVE.Bronze);\n"
                      "CREATE STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('/in', format => 'json', "
                      "schema => 'a INT, k INT');"}});
  auto g = PipelineGraph::Build(defs);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::vector<std::string> order = OrderNames(*g);
  ASSERT_EQ(order.size(), 4u);
  std::map<std::string, size_t> at;
  for (size_t i = 0; i < order.size(); ++i) at[order[i]] = i;
  // Every edge goes forward in the order.
  for (const GraphNode& n : g->nodes()) {
    for (size_t up : n.upstream) EXPECT_LT(at[g->nodes()[up].name], at[n.name]) << n.name;
  }
  EXPECT_EQ(order[0], "bronze");
  EXPECT_EQ(order.back(), "gold");
  const GraphNode& silver = g->nodes()[static_cast<size_t>(g->Find("SILVER"))];
  ASSERT_EQ(silver.inputs.size(), 1u);
  EXPECT_TRUE(silver.inputs[0].streaming);
  EXPECT_EQ(silver.inputs[0].table, "Bronze");  // as written; matched case-insensitively
  EXPECT_EQ(g->ToText().substr(0, 60).find("bronze (streaming table) <- STREAM read_files('/in', json)"), 0u)
      << g->ToText();
}

TEST(GraphTest, DuplicateDefinitionNamesBothPlaces) {
  auto defs = Parse({{"a.sql", "CREATE MATERIALIZED VIEW t AS SELECT x FROM s;\nCREATE STREAMING TABLE s AS SELECT x FROM STREAM s2;"},
                     {"b.sql", "\n\nCREATE MATERIALIZED VIEW T AS SELECT x FROM s;\n"},
                     {"c.sql", "CREATE STREAMING TABLE s2 AS SELECT * FROM STREAM read_files('/x', format => 'csv')"}});
  auto g = PipelineGraph::Build(defs);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("b.sql:3:26"));
  EXPECT_THAT(g.status().message(), HasSubstr("defined twice"));
  EXPECT_THAT(g.status().message(), HasSubstr("a.sql:1:26"));
}

TEST(GraphTest, UnknownTableNamesReferenceAndKnownTables) {
  auto defs = Parse({{"a.sql", "CREATE MATERIALIZED VIEW t AS\nSELECT x FROM s JOIN missing m ON s.x = m.x;\n"
                               "CREATE MATERIALIZED VIEW s AS SELECT x FROM t2"},
                     {"b.sql", "CREATE MATERIALIZED VIEW t2 AS SELECT * FROM read_files('/x', format => 'csv')"}});
  auto g = PipelineGraph::Build(defs);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("a.sql:2:22"));
  EXPECT_THAT(g.status().message(), HasSubstr("unknown table `missing`"));
  EXPECT_THAT(g.status().message(), HasSubstr("t, s, t2"));
}

TEST(GraphTest, CyclesAreRefusedWithThePath) {
  auto defs = Parse({{"a.sql", "CREATE MATERIALIZED VIEW a AS SELECT x FROM c;\n"
                               "CREATE MATERIALIZED VIEW b AS SELECT x FROM a;\n"
                               "CREATE MATERIALIZED VIEW c AS SELECT x FROM b;"}});
  auto g = PipelineGraph::Build(defs);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("cycle"));
  EXPECT_THAT(g.status().message(), HasSubstr("a (a.sql:1:26)"));
  EXPECT_THAT(g.status().message(), HasSubstr("b (a.sql:2:26)"));
  EXPECT_THAT(g.status().message(), HasSubstr("c (a.sql:3:26)"));
  auto self = PipelineGraph::Build(Parse({{"s.sql", "CREATE STREAMING TABLE s AS SELECT x FROM STREAM s"}}));
  ASSERT_FALSE(self.ok());
  EXPECT_THAT(self.status().message(), HasSubstr("cycle: s (s.sql:1:24) reads s"));
}

// Parses the dot output back (nodes with attributes, edges) with a small grammar of what
// ToDot writes, and checks it against the graph.
TEST(GraphTest, DotOutputParsesBack) {
  auto defs = Parse({{"p.sql",
                      "CREATE STREAMING TABLE bronze AS SELECT * FROM STREAM read_files('/land \"q\"', format => 'csv', "
                      "schema => 'a INT');\n"
                      "CREATE STREAMING TABLE silver AS SELECT a FROM STREAM bronze;\n"
                      "CREATE VIEW v AS SELECT a FROM silver;\n"
                      "CREATE MATERIALIZED VIEW gold AS SELECT count(*) AS n FROM v;"}});
  auto g = PipelineGraph::Build(defs);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::string dot = g->ToDot("my \"pipe\"");
  ASSERT_EQ(dot.rfind("digraph \"my \\\"pipe\\\"\" {", 0), 0u) << dot;
  ASSERT_EQ(dot.substr(dot.size() - 2), "}\n");
  const std::string id = R"(("(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*))";
  std::regex node_re("^  " + id + R"( \[(.*)\];$)");
  std::regex edge_re("^  " + id + " -> " + id + R"( \[(.*)\];$)");
  std::regex kind_re(R"re(class="([a-z_]+)")re");
  std::map<std::string, std::string> kinds;
  std::set<std::pair<std::string, std::string>> edges;
  std::set<std::pair<std::string, std::string>> stream_edges;
  size_t start = dot.find('\n') + 1;
  for (size_t pos = start; pos < dot.size();) {
    size_t nl = dot.find('\n', pos);
    std::string line = dot.substr(pos, nl - pos);
    pos = nl + 1;
    std::smatch m;
    if (line == "}" || line == "  rankdir=LR;" || line.rfind("  node [", 0) == 0) continue;
    if (std::regex_match(line, m, edge_re)) {
      edges.insert({m[1], m[2]});
      if (std::string(m[3]).find("style=solid") != std::string::npos) stream_edges.insert({m[1], m[2]});
    } else if (std::regex_match(line, m, node_re)) {
      std::string attrs = m[2];
      std::smatch k;
      ASSERT_TRUE(std::regex_search(attrs, k, kind_re)) << line;
      kinds[m[1]] = k[1];
    } else {
      ADD_FAILURE() << "unparseable dot line: " << line;
    }
  }
  EXPECT_EQ(kinds["\"bronze\""], "streaming_table");
  EXPECT_EQ(kinds["\"silver\""], "streaming_table");
  EXPECT_EQ(kinds["\"v\""], "view");
  EXPECT_EQ(kinds["\"gold\""], "materialized_view");
  EXPECT_EQ(kinds["files0"], "read_files");
  EXPECT_EQ(kinds.size(), 5u);
  std::set<std::pair<std::string, std::string>> want = {
      {"files0", "\"bronze\""}, {"\"bronze\"", "\"silver\""}, {"\"silver\"", "\"v\""}, {"\"v\"", "\"gold\""}};
  EXPECT_EQ(edges, want);
  std::set<std::pair<std::string, std::string>> want_stream = {{"files0", "\"bronze\""}, {"\"bronze\"", "\"silver\""}};
  EXPECT_EQ(stream_edges, want_stream);
  // The quote in the path is escaped in the label.
  EXPECT_NE(dot.find("/land \\\"q\\\""), std::string::npos) << dot;
}

}  // namespace
}  // namespace lakepipe::sql
