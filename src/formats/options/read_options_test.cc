#include "formats/options/read_options.h"

#include <gtest/gtest.h>

#include "types/datetime.h"

namespace lakepipe::formats {
namespace {

Result<ReadFilesSettings> From(std::map<std::string, std::string> options) {
  return ReadFilesSettingsFrom(options);
}

std::string Str(const RecordBatch& b, int64_t row, const std::string& col) {
  const Column* c = b.ColumnByName(col);
  if (c == nullptr) return "<no column " + col + ">";
  if (c->IsNull(row)) return "NULL";
  return c->GetValue(row).ToString();
}

TEST(ReadFilesSettingsTest, CsvDateAndTimestampFormatsParseColumns) {
  auto s = From({{"format", "csv"}, {"header", "true"}, {"dateformat", "dd/MM/yyyy"},
                 {"timestampformat", "dd/MM/yyyy HH:mm"}, {"sep", ";"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  csv::CsvOptions o = s->csv;
  o.schema = *Schema::ParseDDL("d DATE, t TIMESTAMP");
  csv::ReadStats stats;
  auto b = csv::ReadCsvBuffer("d;t\n31/12/2024;01/02/2025 13:45\n2024-12-31;2025-02-01 13:45\n", o, &stats);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 2);
  EXPECT_EQ(b->ColumnByName("d")->data<int32_t>()[0], DaysFromCivil(2024, 12, 31));
  EXPECT_EQ(b->ColumnByName("t")->data<int64_t>()[0],
            DaysFromCivil(2025, 2, 1) * kMicrosPerDay + (13 * 60 + 45) * 60 * kMicrosPerSecond);
  // With a format given, ISO text no longer fits (as Spark): rescued, not guessed.
  EXPECT_EQ(Str(*b, 1, "d"), "NULL");
  EXPECT_EQ(Str(*b, 1, "t"), "NULL");
  EXPECT_EQ(stats.rescued_rows, 1);
}

// Patterns without separators (yyyyMMdd, yyyyMMddHHmmss) split their digits as java.time
// does: the fields after the first take exactly their width.
TEST(ReadFilesSettingsTest, CsvPatternsWithoutSeparators) {
  auto s = From({{"format", "csv"}, {"header", "true"}, {"dateformat", "yyyyMMdd"},
                 {"timestampformat", "yyyyMMddHHmmss"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  csv::CsvOptions o = s->csv;
  o.schema = *Schema::ParseDDL("d DATE, t TIMESTAMP");
  csv::ReadStats stats;
  auto b = csv::ReadCsvBuffer("d,t\n20240115,20250201134507\n2024011,2025020113450\n2024-01-15,20251301000000\n", o, &stats);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 3);
  EXPECT_EQ(Str(*b, 0, "d"), "2024-01-15");
  EXPECT_EQ(Str(*b, 0, "t"), "2025-02-01 13:45:07");
  // Too few digits for the fixed fields, separators, a month 13: rescued, not guessed.
  EXPECT_EQ(Str(*b, 1, "d"), "NULL");
  EXPECT_EQ(Str(*b, 1, "t"), "NULL");
  EXPECT_EQ(Str(*b, 2, "d"), "NULL");
  EXPECT_EQ(Str(*b, 2, "t"), "NULL");
  EXPECT_EQ(stats.rescued_rows, 2);
}

TEST(ReadFilesSettingsTest, JsonMultiLineAndFormats) {
  auto s = From({{"format", "json"}, {"multiline", "true"}, {"dateformat", "dd.MM.yyyy"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  json::JsonOptions o = s->json;
  EXPECT_TRUE(o.multi_line);
  o.schema = *Schema::ParseDDL("id INT, d DATE");
  auto b = json::ReadJsonBuffer("[\n  {\"id\": 1,\n   \"d\": \"29.02.2024\"},\n  {\"id\": 2, \"d\": \"2024-02-29\"}\n]\n", o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->num_rows(), 2);
  EXPECT_EQ(b->ColumnByName("d")->data<int32_t>()[0], DaysFromCivil(2024, 2, 29));
  EXPECT_EQ(Str(*b, 1, "d"), "NULL");
  EXPECT_NE(Str(*b, 1, "_rescued_data").find("2024-02-29"), std::string::npos);
}

TEST(ReadFilesSettingsTest, SourceOptions) {
  auto s = From({{"format", "parquet"}, {"maxfilespertrigger", "3"}, {"maxbytespertrigger", "100"},
                 {"includeexistingfiles", "FALSE"}, {"filestablemillis", "250"}, {"schema", "a INT"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->source.max_files_per_trigger, 3);
  EXPECT_EQ(s->source.max_bytes_per_trigger, 100);
  EXPECT_FALSE(s->source.include_existing_files);
  EXPECT_EQ(s->source.file_stable_millis, 250);
}

TEST(ReadFilesSettingsTest, RefusesUnknownOptionsAndBadValuesNamingThem) {
  auto r = From({{"format", "json"}, {"header", "true"}});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == StatusCode::kNotSupported);
  EXPECT_NE(r.status().message().find("header is not supported for format json"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("multiLine"), std::string::npos) << r.status().message();

  r = From({{"format", "csv"}, {"multiline", "true"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dateFormat"), std::string::npos) << r.status().message();

  r = From({{"format", "parquet"}, {"dateformat", "yyyy"}});
  EXPECT_TRUE(r.status().code() == StatusCode::kNotSupported) << r.status().ToString();

  r = From({{"format", "csv"}, {"dateformat", "yyyy-MM-dd VV"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dateFormat"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("'V'"), std::string::npos) << r.status().message();

  r = From({{"format", "json"}, {"multiline", "yes"}});
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument) << r.status().ToString();
  r = From({{"format", "csv"}, {"maxfilespertrigger", "-1"}});
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument) << r.status().ToString();
  r = From({{"format", "csv"}, {"pathglobfilter", "*.{csv"}});
  EXPECT_NE(r.status().message().find("pathGlobFilter '*.{csv': unclosed {"), std::string::npos) << r.status().ToString();
  r = From({{"format", "json"}, {"pathglobfilter", "*.json"}, {"recursivefilelookup", "false"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.path_glob_filter, "*.json");
  EXPECT_FALSE(r->source.recursive_file_lookup);
  r = From({{"format", "csv"}, {"mode", "FAILFAST"}});
  EXPECT_TRUE(r.status().code() == StatusCode::kNotSupported) << r.status().ToString();
}

// maxFileAge (Spark's name and default, 7 days), spelled as the other durations.
TEST(ReadFilesSettingsTest, MaxFileAgeIsADurationNamedInItsErrors) {
  auto r = From({{"format", "csv"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.max_file_age_micros, 7LL * 24 * 3600 * 1000000);
  r = From({{"format", "csv"}, {"maxfileage", "12 hours"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.max_file_age_micros, 12LL * 3600 * 1000000);
  r = From({{"format", "json"}, {"maxFileAge", "interval 1 day 6 hours"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.max_file_age_micros, 30LL * 3600 * 1000000);
  for (const char* bad : {"7", "seven days", "-1 day", "0 seconds", ""}) {
    r = From({{"format", "csv"}, {"maxfileage", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find("maxFileAge"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("'" + std::string(bad) + "'"), std::string::npos) << r.status().ToString();
  }
}

// cleanSource (Spark's): 'off' (the default), 'delete', or 'archive' with sourceArchiveDir;
// anything else, and a sourceArchiveDir that would do nothing, is refused naming the option.
TEST(ReadFilesSettingsTest, CleanSourceModesAndTheirRefusals) {
  auto r = From({{"format", "csv"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.clean_source, CleanSourceMode::kOff);
  r = From({{"format", "csv"}, {"cleansource", "OFF"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.clean_source, CleanSourceMode::kOff);
  r = From({{"format", "json"}, {"cleansource", "Delete"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.clean_source, CleanSourceMode::kDelete);
  r = From({{"format", "parquet"}, {"cleansource", "archive"}, {"sourcearchivedir", "/archive/orders"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source.clean_source, CleanSourceMode::kArchive);
  EXPECT_EQ(r->source.source_archive_dir, "/archive/orders");

  struct Bad {
    std::map<std::string, std::string> options;
    const char* says;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"format", "csv"}, {"cleansource", "move"}}, "cleanSource must be 'off', 'delete' or 'archive', got 'move'"},
           {{{"format", "csv"}, {"cleansource", ""}}, "cleanSource must be"},
           {{{"format", "csv"}, {"cleansource", "archive"}}, "cleanSource => 'archive' needs sourceArchiveDir"},
           {{{"format", "csv"}, {"sourcearchivedir", "/archive"}}, "sourceArchiveDir is used only with cleanSource => 'archive'"},
           {{{"format", "csv"}, {"cleansource", "delete"}, {"sourcearchivedir", "/archive"}},
            "sourceArchiveDir is used only with cleanSource => 'archive'"},
           {{{"format", "csv"}, {"cleansource", "archive"}, {"sourcearchivedir", "archive"}},
            "sourceArchiveDir must be a folder's absolute path"}}) {
    r = From(bad.options);
    ASSERT_FALSE(r.ok()) << bad.says;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(bad.says), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace lakepipe::formats
