// The file source's listing and reading rules against a real folder: links to folders
// are never followed (no loop, no file listed twice), links to files outside the tree
// are read once, a file being written is held back in continuous runs, and a planned
// file is read as exactly its planned bytes.
#include "runtime/file_source.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>

#include "common/clock.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs_->CreateDirs(root_).ok()); }

  void Write(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(fs_->CreateDirs(DirName(JoinPath(root_, rel))).ok());
    ASSERT_TRUE(fs_->WriteFile(JoinPath(root_, rel), text).ok());
  }
  void Link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), JoinPath(root_, rel).c_str()), 0) << rel;
  }
  std::vector<std::string> Paths(const std::vector<SourceFileEntry>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.path);
    std::sort(out.begin(), out.end());
    return out;
  }
  static bool Mentions(const std::vector<std::string>& notes, const std::string& what) {
    for (const auto& n : notes)
      if (n.find(what) != std::string::npos) return true;
    return false;
  }

  sql::ReadFilesSpec CsvSpec() {
    sql::ReadFilesSpec spec;
    spec.path = root_;
    spec.format = "csv";
    spec.options = {{"format", "csv"}, {"header", "true"}};  // options hold the format too, as the front end gives them
    spec.schema = *Schema::ParseDDL("id INT");
    return spec;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::string root_ = dir_.Join("landing");
};

TEST_F(FileSourceTest, LinksToFoldersAreNotFollowedAndCyclesDoNotLoop) {
  Write("good.csv", "id\n1\n");
  Write("sub/inner.csv", "id\n2\n");
  Write("a/b/deep.csv", "id\n3\n");
  Link("..", "sub/up");                 // back into the tree (the reproduction)
  Link(root_, "a/b/root");              // a second loop, by absolute path
  Link("../..", "a/b/grand");           // and a third, two levels up
  std::string outside = dir_.Join("outside");
  ASSERT_TRUE(fs_->CreateDirs(outside).ok());
  ASSERT_TRUE(fs_->WriteFile(JoinPath(outside, "secret.csv"), "id\n99\n").ok());
  Link(outside, "elsewhere");           // out of the tree
  auto listing = ListNewFiles(fs_, root_, std::set<std::string>{}, {});
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(Paths(listing->files), (std::vector<std::string>{"a/b/deep.csv", "good.csv", "sub/inner.csv"}));
  for (const char* link : {"sub/up", "a/b/root", "a/b/grand", "elsewhere"}) {
    EXPECT_TRUE(Mentions(listing->not_followed, std::string(link) + " (a link to a folder)")) << link;
  }
  // The batch read of read_files (a materialized view) walks the same way.
  std::vector<std::string> notes;
  auto all = ListAllFiles(fs_, root_, {}, &notes);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(notes.size(), 4u);
}

TEST_F(FileSourceTest, PathGlobFilterAndRecursiveFileLookupSelectFiles) {
  Write("a.json", "{}\n");
  Write("b.jsonl", "{}\n");
  Write("notes.txt", "x\n");
  Write("2026/01/c.json", "{}\n");
  Write("2026/01/d.txt", "x\n");
  auto spec = CsvSpec();
  spec.options = {{"format", "json"}, {"pathglobfilter", "*.{json,jsonl}"}};
  auto options = FileListOptionsFrom(spec);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  auto listing = ListNewFiles(fs_, root_, std::set<std::string>{}, *options);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  // The glob is on names, at any depth; what it leaves out is not backlog either.
  EXPECT_EQ(Paths(listing->files), (std::vector<std::string>{"2026/01/c.json", "a.json", "b.jsonl"}));
  EXPECT_EQ(listing->backlog_files, 0);
  spec.options["recursivefilelookup"] = "false";
  options = FileListOptionsFrom(spec);
  ASSERT_TRUE(options.ok());
  listing = ListNewFiles(fs_, root_, std::set<std::string>{}, *options);
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(Paths(listing->files), (std::vector<std::string>{"a.json", "b.jsonl"}));
  auto all = ListAllFiles(fs_, root_, options->selection);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Paths(*all), (std::vector<std::string>{"a.json", "b.jsonl"}));
  // A source that is one file is taken only if its name matches.
  FileSelection only_txt;
  only_txt.name_glob = *FileNameGlob::Compile("*.txt");
  all = ListAllFiles(fs_, JoinPath(root_, "a.json"), only_txt);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(FileSourceTest, LinksToFilesAreReadOnceAndOnlyFromOutsideTheTree) {
  Write("good.csv", "id\n1\n");
  Link("good.csv", "alias.csv");  // the same file again: listed under its own name only
  std::string outside = dir_.Join("outside");
  ASSERT_TRUE(fs_->CreateDirs(outside).ok());
  ASSERT_TRUE(fs_->WriteFile(JoinPath(outside, "ext.csv"), "id\n7\n").ok());
  Link(JoinPath(outside, "ext.csv"), "ext.csv");
  Link(JoinPath(outside, "ext.csv"), "ext-again.csv");  // a second link to it
  Link(dir_.Join("missing.csv"), "dangling.csv");
  auto listing = ListNewFiles(fs_, root_, std::set<std::string>{}, {});
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(Paths(listing->files), (std::vector<std::string>{"ext-again.csv", "good.csv"}));
  EXPECT_TRUE(Mentions(listing->not_followed, "ext.csv (a second link to"));
  EXPECT_TRUE(Mentions(listing->not_followed, "dangling.csv (a link to nothing)"));
}

TEST_F(FileSourceTest, UnfinishedFilesWaitInContinuousRuns) {
  Write("done.csv", "id\n1\n");
  Write("cut.csv", "id\n1\n2");  // the last line has no newline yet
  Write("empty.csv", "");        // created, nothing written yet
  auto spec = CsvSpec();
  auto options = FileListOptionsFrom(spec);
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->line_delimited);
  options->now_micros = Clock::System()->NowMicros();
  options->unterminated_settle_micros = 60'000'000;
  auto listing = ListNewFiles(fs_, root_, std::set<std::string>{}, *options);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(Paths(listing->files), (std::vector<std::string>{"done.csv"}));
  EXPECT_EQ(listing->backlog_files, 2);
  EXPECT_GT(listing->next_stable_in_micros, 0);
  // Once unchanged for the settle time, the cut line is the file's last row.
  options->now_micros += 61'000'000;
  listing = ListNewFiles(fs_, root_, {"done.csv"}, *options);
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(Paths(listing->files), (std::vector<std::string>{"cut.csv", "empty.csv"}));
  // A triggered run (no settle time) takes every file as it is.
  options->unterminated_settle_micros = 0;
  options->now_micros -= 61'000'000;
  listing = ListNewFiles(fs_, root_, std::set<std::string>{}, *options);
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->files.size(), 3u);
}

TEST_F(FileSourceTest, APlannedFileIsReadAsItsPlannedBytesOnly) {
  Write("grow.csv", "id\n1\n2\n");
  auto listing = ListNewFiles(fs_, root_, std::set<std::string>{}, {});
  ASSERT_TRUE(listing.ok());
  ASSERT_EQ(listing->files.size(), 1u);
  EXPECT_EQ(listing->files[0].size, 7);
  // The writer goes on appending after the plan was made.
  Write("grow.csv", "id\n1\n2\n3\n4\n5\n");
  auto spec = CsvSpec();
  Schema output = *Schema::ParseDDL("id INT");
  FileReadStats stats;
  auto batches = ReadSourceFiles(fs_, spec, listing->files, output, &stats);
  ASSERT_TRUE(batches.ok()) << batches.status().ToString();
  EXPECT_EQ(stats.rows, 2);
  std::vector<int32_t> ids;
  for (const auto& b : *batches)
    for (int64_t r = 0; r < b.num_rows(); ++r) ids.push_back(b.column(0).Get<int32_t>(r));
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2}));
  ASSERT_EQ(stats.changed_files.size(), 1u);
  EXPECT_EQ(stats.changed_files[0].path, JoinPath(root_, "grow.csv"));
  EXPECT_EQ(stats.changed_files[0].planned_size, 7);
  EXPECT_EQ(stats.changed_files[0].size, 13);
  // A file read at its planned size is not reported.
  FileReadStats again;
  auto exact = ListNewFiles(fs_, root_, std::set<std::string>{}, {});
  ASSERT_TRUE(ReadSourceFiles(fs_, spec, exact->files, output, &again).ok());
  EXPECT_EQ(again.rows, 5);
  EXPECT_TRUE(again.changed_files.empty());
}

// A name that is not valid UTF-8 cannot be recorded in the checkpoint (JSON text): such a
// file is told apart, not taken, whatever its age.
TEST_F(FileSourceTest, FilesWhoseNamesAreNotUtf8AreToldApartNotTaken) {
  Write("ok.csv", "id\n1\n");
  Write("caf\xe9.csv", "id\n2\n");  // Latin-1
  Write("sub\xff/x.csv", "id\n3\n");
  auto listing = ListNewFiles(fs_, root_, std::set<std::string>{}, FileListOptions{});
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(Paths(listing->files), std::vector<std::string>{"ok.csv"});
  std::vector<std::string> bad;
  for (const auto& f : listing->bad_names) bad.push_back(f.path);
  std::sort(bad.begin(), bad.end());
  EXPECT_EQ(bad, (std::vector<std::string>{"caf\xe9.csv", "sub\xff/x.csv"}));
  EXPECT_EQ(listing->backlog_files, 0);
}

// maxFileAge: a file older than the horizon is listed as too old, not taken and not
// counted as backlog; files the caller knows are passed by before any stat.
TEST_F(FileSourceTest, FilesOlderThanTheHorizonAreToldApartNotTaken) {
  Write("new.csv", "id\n1\n");
  Write("old.csv", "id\n2\n");
  Write("older.csv", "id\n3\n");
  Write("known.csv", "id\n4\n");
  int64_t now_s = time(nullptr);
  auto age = [&](const std::string& rel, int64_t seconds_ago) {
    struct utimbuf t;
    t.actime = t.modtime = now_s - seconds_ago;
    ASSERT_EQ(utime(JoinPath(root_, rel).c_str(), &t), 0);
  };
  age("old.csv", 3 * 86400);
  age("older.csv", 5 * 86400);
  age("known.csv", 9 * 86400);
  FileListOptions options;
  options.horizon_micros = (now_s - 86400) * 1000000;  // a day ago
  std::vector<std::string> asked;
  KnownFile known = [&](const std::string& p) {
    asked.push_back(p);
    return p == "known.csv";
  };
  auto listing = ListNewFiles(fs_, root_, known, options);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(Paths(listing->files), std::vector<std::string>{"new.csv"});
  ASSERT_EQ(listing->too_old.size(), 2u);
  EXPECT_EQ(listing->too_old[0].path, "older.csv");  // oldest first
  EXPECT_EQ(listing->too_old[1].path, "old.csv");
  EXPECT_EQ(listing->backlog_files, 0);
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<std::string>{"known.csv", "new.csv", "old.csv", "older.csv"}));
  // Without a horizon every file is new.
  listing = ListNewFiles(fs_, root_, std::set<std::string>{}, FileListOptions{});
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->files.size(), 4u);
  EXPECT_TRUE(listing->too_old.empty());
}

}  // namespace
}  // namespace lakepipe::runtime
