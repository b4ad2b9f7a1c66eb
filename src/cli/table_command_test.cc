// Runs the built `lakepipe` binary: table write / show / describe / history / optimize /
// vacuum, their --help, their error lines, and DuckDB reading the data files we wrote.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <map>
#include <string>
#include <vector>

#include "common/fs.h"
#include "cli/cli_test_util.h"
#include "testing/testing.h"

namespace lakepipe {
namespace {

using testing::RunCommand;
using testing::TempDir;


// A value as comparable text: numbers (or numeric strings, as DuckDB prints bigints)
// through double; null and absent alike.
std::string Norm(const nlohmann::json& row, const std::string& key) {
  if (!row.contains(key) || row[key].is_null()) return "NULL";
  const auto& v = row[key];
  if (v.is_number()) return std::to_string(v.get<double>());
  if (v.is_string()) {
    const std::string& t = v.get<std::string>();
    char* end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size()) return std::to_string(d);  // DuckDB bigints
    return t;
  }
  return v.dump();
}

// Whether `describe` output lists column `name` with type `type`.
bool HasSchemaRow(const std::string& desc, const std::string& name, const std::string& type) {
  size_t at = desc.find("\n| " + name + " ");
  if (at == std::string::npos) return false;
  std::string line = desc.substr(at + 1, desc.find('\n', at + 1) - at - 1);
  return line.find("| " + type + " ") != std::string::npos;
}

std::vector<nlohmann::json> SortedById(std::vector<nlohmann::json> rows) {
  std::sort(rows.begin(), rows.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    auto key = [](const nlohmann::json& r) {
      std::string v = Norm(r, "id");
      return v == "NULL" ? -1.0 : std::stod(v);
    };
    return key(a) < key(b);
  });
  return rows;
}

const char* kOrdersCsv =
    "id,name,price,qty,country\n"
    "1,apple,1.5,3,UK\n"
    "2,\"pear, green\",0.25,10,FR\n"
    "3,\"say \"\"cheese\"\"\",2,,UK\n"
    "4,plum,oops,1,DE\n";

class TableCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = dir_.Join("orders.csv");
    table_ = dir_.Join("orders_table");
    ASSERT_TRUE(FileSystem::Default()->WriteFile(csv_, kOrdersCsv).ok());
  }
  TempDir dir_;
  std::string csv_;
  std::string table_;
};

TEST_F(TableCommandTest, WriteCsvThenShowInEveryFormat) {
  std::string out = Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_) +
                             " --schema 'id INT, name STRING, price DOUBLE, qty BIGINT, country STRING'");
  EXPECT_NE(out.find("wrote 4 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("1 row kept values that did not fit the schema in _rescued_data (first at line 5)"),
            std::string::npos) << out;

  auto rows = SortedById(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl")));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1]["name"], "pear, green");
  EXPECT_EQ(rows[2]["name"], "say \"cheese\"");
  EXPECT_FALSE(rows[2].contains("qty"));  // NULL fields are omitted, as Spark writes JSON
  EXPECT_FALSE(rows[3].contains("price"));
  EXPECT_EQ(rows[3]["_rescued_data"], "{\"price\":\"oops\",\"_file_path\":\"" + csv_ + "\"}");
  EXPECT_DOUBLE_EQ(rows[0]["price"].get<double>(), 1.5);
  EXPECT_EQ(rows[1]["qty"].get<int64_t>(), 10);

  std::string csv_out = Lakepipe("table show " + Quote(table_) + " --format csv");
  EXPECT_EQ(csv_out.rfind("id,name,price,qty,country,_rescued_data\n", 0), 0u) << csv_out;
  EXPECT_NE(csv_out.find("2,\"pear, green\",0.25,10,FR,\n"), std::string::npos) << csv_out;

  std::string text = Lakepipe("table show " + Quote(table_));
  EXPECT_NE(text.find("| id | name"), std::string::npos) << text;
  EXPECT_NE(text.find("pear, green"), std::string::npos) << text;
  EXPECT_NE(text.find("4 rows (version 0)"), std::string::npos) << text;

  std::string limited = Lakepipe("table show " + Quote(table_) + " --limit 2 --format jsonl");
  EXPECT_EQ(JsonLines(limited).size(), 2u);
}

TEST_F(TableCommandTest, InfersTypesDescribesAndAppendsWithTimeTravel) {
  Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_));
  std::string desc = Lakepipe("table describe " + Quote(table_));
  EXPECT_TRUE(HasSchemaRow(desc, "id", "int")) << desc;
  EXPECT_TRUE(HasSchemaRow(desc, "name", "string")) << desc;
  EXPECT_TRUE(HasSchemaRow(desc, "price", "string")) << desc;  // "oops" makes it text
  EXPECT_TRUE(HasSchemaRow(desc, "qty", "int")) << desc;
  EXPECT_TRUE(HasSchemaRow(desc, "_rescued_data", "string")) << desc;
  EXPECT_NE(desc.find("rows        4"), std::string::npos) << desc;
  EXPECT_NE(desc.find("files       1"), std::string::npos) << desc;
  EXPECT_NE(desc.find("minReaderVersion 1, minWriterVersion 2"), std::string::npos) << desc;

  std::string more = dir_.Join("more.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(more, "id,name,price,qty,country\n5,fig,3,1,UK\n").ok());
  std::string out = Lakepipe("table write --from " + Quote(more) + " --to " + Quote(table_));
  EXPECT_NE(out.find("version 1"), std::string::npos) << out;

  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl")).size(), 5u);
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --version 0 --format jsonl")).size(), 4u);
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) +
                               " --timestamp 2999-01-01T00:00:00Z --format jsonl")).size(), 5u);
  ExpectOneErrorLine(LakepipeFails("table show " + Quote(table_) + " --timestamp 2001-01-01"), "");
  ExpectOneErrorLine(LakepipeFails("table show " + Quote(table_) + " --version 7"), "7");

  std::string history = Lakepipe("table history " + Quote(table_));
  EXPECT_NE(history.find("| version |"), std::string::npos) << history;
  EXPECT_NE(history.find("WRITE"), std::string::npos) << history;
  EXPECT_NE(history.find("|       1 |"), std::string::npos) << history;
  EXPECT_NE(history.find("|       0 |"), std::string::npos) << history;
  EXPECT_LT(history.find("|       1 |"), history.find("|       0 |"));  // newest first
}

TEST_F(TableCommandTest, WritesJsonLinesAndParquetAndPartitions) {
  std::string jsonl = dir_.Join("events.jsonl");
  ASSERT_TRUE(FileSystem::Default()
                  ->WriteFile(jsonl,
                              "{\"id\":1,\"user\":{\"name\":\"ann\",\"tags\":[\"a\",\"b\"]},\"v\":1.5}\n"
                              "{\"id\":2,\"user\":{\"name\":\"bob\",\"tags\":[]},\"v\":2}\n"
                              "not json\n")
                  .ok());
  std::string jt = dir_.Join("events");
  std::string out = Lakepipe("table write --from " + Quote(jsonl) + " --to " + Quote(jt));
  EXPECT_NE(out.find("wrote 3 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("first at line 3"), std::string::npos) << out;
  auto rows = SortedById(JsonLines(Lakepipe("table show " + Quote(jt) + " --format jsonl")));
  ASSERT_EQ(rows.size(), 3u);
  // The malformed line's row has no id; look rows up by content.
  int found = 0;
  for (const auto& r : rows) {
    if (r.contains("id") && r["id"] == 1) {
      EXPECT_EQ(r["user"]["tags"], nlohmann::json::array({"a", "b"}));
      ++found;
    }
    if (r.contains("_rescued_data")) {
      EXPECT_NE(r["_rescued_data"].get<std::string>().find("\"_corrupt_record\":\"not json\""),
                std::string::npos);
      ++found;
    }
  }
  EXPECT_EQ(found, 2);

  // Parquet in: a data file of the CSV table.
  std::string csv_table = dir_.Join("csv_table");
  Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(csv_table) +
           " --schema 'id INT, name STRING, price DOUBLE, qty BIGINT, country STRING'");
  auto files = FileSystem::Default()->ListDir(csv_table);
  ASSERT_TRUE(files.ok());
  std::string parquet;
  for (const auto& f : *files) {
    if (f.name.size() > 8 && f.name.substr(f.name.size() - 8) == ".parquet") parquet = JoinPath(csv_table, f.name);
  }
  ASSERT_FALSE(parquet.empty());
  std::string pt = dir_.Join("from_parquet");
  Lakepipe("table write --from " + Quote(parquet) + " --to " + Quote(pt) + " --partition-by country");
  std::string desc = Lakepipe("table describe " + Quote(pt));
  EXPECT_NE(desc.find("partitions  country"), std::string::npos) << desc;
  auto a = SortedById(JsonLines(Lakepipe("table show " + Quote(csv_table) + " --format jsonl")));
  auto b = SortedById(JsonLines(Lakepipe("table show " + Quote(pt) + " --format jsonl")));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* k : {"id", "name", "price", "qty", "country", "_rescued_data"}) {
      EXPECT_EQ(Norm(a[i], k), Norm(b[i], k)) << k;
    }
  }
}

TEST_F(TableCommandTest, OverwriteOptimizeAndVacuum) {
  for (int i = 0; i < 3; ++i) Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_));
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl --limit 100")).size(), 12u);
  std::string opt = Lakepipe("table optimize " + Quote(table_));
  EXPECT_NE(opt.find("compacted 3 files into 1"), std::string::npos) << opt;
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl --limit 100")).size(), 12u);
  std::string desc = Lakepipe("table describe " + Quote(table_));
  EXPECT_NE(desc.find("files       1"), std::string::npos) << desc;

  std::string out = Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_) +
                             " --mode overwrite");
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl --limit 100")).size(), 4u);

  ExpectOneErrorLine(LakepipeFails("table vacuum " + Quote(table_) + " --retain 0"), "168");
  std::string vac = Lakepipe("table vacuum " + Quote(table_) + " --retain 0 --force");
  EXPECT_NE(vac.find("deleted 4 files"), std::string::npos) << vac;
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl")).size(), 4u);
  std::string history = Lakepipe("table history " + Quote(table_));
  EXPECT_NE(history.find("OPTIMIZE"), std::string::npos) << history;
}

// Issue 19: `table vacuum --retain 0 --force` during a run deleted files the run still
// referenced. A table inside a pipeline's storage folder is vacuumed (and optimized) only
// under the run's storage lock: refused while a run holds it, naming the run's pid.
TEST_F(TableCommandTest, VacuumAndOptimizeAreRefusedWhileARunHoldsTheStorage) {
  std::string example = testing::SourceDir() + "/examples/orders";
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(dir_.Join("landing")).ok());
  Lakepipe("generate orders --rows 2000 --seed 4 --out " + dir_.Join("landing/orders-1.csv"));
  std::string sets = " --set landing=" + dir_.Join("landing") + " --set storage=" + dir_.Join("storage");
  std::string bronze = dir_.Join("storage/bronze_orders");
  std::string log = dir_.Join("run.log");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + Binary() + " run " + example + sets + " > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string lock = dir_.Join("storage/_lakepipe.lock");
  bool locked = false;
  for (int i = 0; i < 300 && !locked; ++i) {
    auto text = FileSystem::Default()->ReadFile(lock);
    locked = text.ok() && *text == std::to_string(pid) && FileSystem::Default()->Exists(JoinPath(bronze, "_delta_log"));
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(locked) << "the run did not take its storage lock";
  std::string vacuum = LakepipeFails("table vacuum " + Quote(bronze) + " --retain 0 --force");
  ExpectOneErrorLine(vacuum, "in use by another lakepipe run (pid " + std::to_string(pid) + ")");
  EXPECT_NE(vacuum.find("VACUUM"), std::string::npos) << vacuum;
  ExpectOneErrorLine(LakepipeFails("table optimize " + Quote(bronze)), "(pid " + std::to_string(pid) + ")");
  // A dry run deletes nothing and needs no lock.
  Lakepipe("table vacuum " + Quote(bronze) + " --retain 0 --force --dry-run");
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << (FileSystem::Default()->ReadFile(log).ok() ? *FileSystem::Default()->ReadFile(log) : std::string());
  // With the run stopped, the same commands run.
  std::string vac = Lakepipe("table vacuum " + Quote(bronze) + " --retain 0 --force");
  EXPECT_NE(vac.find("deleted"), std::string::npos) << vac;
  Lakepipe("table optimize " + Quote(bronze));
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(bronze) + " --format jsonl --limit 5000")).size(), 2000u);
}

// `table delete --where` rewrites only the files holding matching rows, in one DELETE
// commit recorded in the history; the previous version stays readable (time travel).
TEST_F(TableCommandTest, DeleteWhereRewritesMatchingFilesAndKeepsHistory) {
  for (int i = 0; i < 2; ++i) Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_));
  std::string out = Lakepipe("table delete " + Quote(table_) + " --where \"country = 'UK' AND id >= 1\"");
  EXPECT_NE(out.find("deleted 4 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("2 files rewritten"), std::string::npos) << out;
  auto rows = JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl --limit 100"));
  EXPECT_EQ(rows.size(), 4u);
  for (const auto& r : rows) EXPECT_NE(Norm(r, "country"), "UK");
  std::string history = Lakepipe("table history " + Quote(table_));
  EXPECT_NE(history.find("DELETE"), std::string::npos) << history;
  EXPECT_NE(history.find("country = 'UK'"), std::string::npos) << history;
  // Version 1 (before the delete) still has every row.
  EXPECT_EQ(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl --limit 100 --version 1")).size(), 8u);
  // A condition matching nothing commits nothing.
  std::string none = Lakepipe("table delete " + Quote(table_) + " --where 'id = 999'");
  EXPECT_NE(none.find("nothing deleted"), std::string::npos) << none;
  // Errors: no condition, an unknown column, a non-boolean condition.
  ExpectOneErrorLine(LakepipeFails("table delete " + Quote(table_)), "--where");
  ExpectOneErrorLine(LakepipeFails("table delete " + Quote(table_) + " --where 'nope = 1'"), "nope");
  ExpectOneErrorLine(LakepipeFails("table delete " + Quote(table_) + " --where 'id + 1'"), "not a boolean");
}

TEST_F(TableCommandTest, HelpOnEveryCommand) {
  for (const char* cmd : {"table", "table write", "table show", "table describe", "table history",
                          "table optimize", "table vacuum"}) {
    std::string out = Lakepipe(std::string(cmd) + " --help");
    EXPECT_NE(out.find("Usage"), std::string::npos) << cmd << ": " << out;
  }
  EXPECT_NE(Lakepipe("table write --help").find("--partition-by"), std::string::npos);
}

TEST_F(TableCommandTest, ErrorsAreOneClearLine) {
  ExpectOneErrorLine(LakepipeFails("table write --from /nonexistent/x.csv --to " + Quote(table_)),
                     "no such file: /nonexistent/x.csv");
  ExpectOneErrorLine(LakepipeFails("table write --from " + Quote(csv_) + " --to " + Quote(table_) +
                                   " --schema 'id INTT'"),
                     "bad --schema");
  ExpectOneErrorLine(LakepipeFails("table show " + Quote(dir_.Join("nope"))), "no Delta table at");
  ExpectOneErrorLine(LakepipeFails("table describe " + Quote(dir_.Join("nope"))), "no Delta table at");
  ExpectOneErrorLine(LakepipeFails("table write --from " + Quote(csv_) + " --to " + Quote(table_) +
                                   " --mode upsert"),
                     "--mode");
  ExpectOneErrorLine(LakepipeFails("table write --to " + Quote(table_)), "--from");
  std::string data = dir_.Join("data.xyz");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(data, "a\n").ok());
  ExpectOneErrorLine(LakepipeFails("table write --from " + Quote(data) + " --to " + Quote(table_)),
                     "--format");
  // A mismatched append is refused by the table, naming the column.
  Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_));
  std::string other = dir_.Join("other.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(other, "x\n1\n").ok());
  auto err = LakepipeFails("table write --from " + Quote(other) + " --to " + Quote(table_) +
                           " --schema 'x INT'");
  ExpectOneErrorLine(err, "x");
}

TEST_F(TableCommandTest, DuckDbReadsTheDataFilesAndAgreesWithShow) {
  Lakepipe("table write --from " + Quote(csv_) + " --to " + Quote(table_) +
           " --schema 'id INT, name STRING, price DOUBLE, qty BIGINT, country STRING'");
  auto duck = testing::RunDuckDB("SELECT * FROM read_parquet('" + table_ + "/*.parquet')");
  if (!duck.ok() && duck.status().IsNotFound()) GTEST_SKIP() << duck.status().message();
  ASSERT_TRUE(duck.ok()) << duck.status().message();
  auto theirs = SortedById(JsonLines(*duck));
  auto ours = SortedById(JsonLines(Lakepipe("table show " + Quote(table_) + " --format jsonl")));
  ASSERT_EQ(theirs.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    for (const char* k : {"id", "name", "price", "qty", "country", "_rescued_data"}) {
      EXPECT_EQ(Norm(ours[i], k), Norm(theirs[i], k)) << "row " << i << " column " << k;
    }
  }
}

// Issue 19 items 3 and 4: `a,b\n1,caf\xe9` used to abort (nlohmann type_error 316, exit
// 134). The Latin-1 value is rescued (STRING is UTF-8 only), the write succeeds, and DuckDB
// reads the table with a valid JSON rescue record.
TEST_F(TableCommandTest, InvalidUtf8IsRescuedAndTheTableStaysReadable) {
  std::string bad = dir_.Join("latin1.csv");
  ASSERT_TRUE(FileSystem::Default()->WriteFile(bad, "a,b\n1,caf\xe9\n2,tea\n").ok());
  std::string out = Lakepipe("table write --from " + Quote(bad) + " --to " + Quote(table_));
  EXPECT_NE(out.find("wrote 2 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("1 row kept values"), std::string::npos) << out;
  // The same file again, now with the table's schema (an append): still no abort.
  Lakepipe("table write --from " + Quote(bad) + " --to " + Quote(table_));

  auto duck = testing::RunDuckDB("SELECT a::INT AS a, b, json_valid(_rescued_data) AS ok, "
                                 "_rescued_data->>'$._invalid_utf8.b' AS hex FROM read_parquet('" +
                                 table_ + "/*.parquet') ORDER BY a, b NULLS FIRST");
  if (!duck.ok() && duck.status().IsNotFound()) GTEST_SKIP() << duck.status().message();
  ASSERT_TRUE(duck.ok()) << duck.status().message();
  auto rows = JsonLines(*duck);
  ASSERT_EQ(rows.size(), 4u) << *duck;
  for (int i : {0, 1}) {
    EXPECT_EQ(rows[i]["a"], 1);
    EXPECT_TRUE(rows[i]["b"].is_null()) << rows[i];
    EXPECT_EQ(rows[i]["ok"], true) << rows[i];
    EXPECT_EQ(rows[i]["hex"], "636166e9") << rows[i];
  }
  EXPECT_EQ(rows[2]["b"], "tea");
  EXPECT_TRUE(rows[2]["ok"].is_null());
}

}  // namespace
}  // namespace lakepipe
