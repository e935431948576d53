// The checksum cache must never vouch for a changed file: edits that keep the
// size, edits within the same second, touched files, damaged cache files.
#include "migration/checksum_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "migration/checksum.h"
#include "migration/loader.h"
#include "testutil/harness.h"

namespace strata {
namespace {

constexpr int64_t kHour = 3600LL * 1'000'000'000;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

FileStamp Stamp(int64_t mtime_ns, int64_t ctime_ns) {
  return FileStamp{1, 2, 30, mtime_ns, ctime_ns};
}

class ChecksumCacheTest : public ::testing::Test {
 protected:
  std::string CacheFile() const { return cache_dir_.path() + "/strata/dir.checksums"; }
  ChecksumCache Open(int64_t now_ns) { return ChecksumCache::Open(CacheFile(), "/project/migrations", now_ns); }

  /// Loads dir_ with the cache, judging files against `now_ns` (0: the clock).
  std::vector<Migration> Load(int64_t now_ns = 0) {
    LoadOptions options;
    options.use_cache = true;
    options.cache_file = CacheFile();
    options.now_ns = now_ns;
    auto loaded = LoadMigrations(dir_.path(), options);
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    return loaded.ok() ? *loaded : std::vector<Migration>{};
  }
  std::string Path(const std::string& file) const { return dir_.path() + "/" + file; }
  struct stat Stat(const std::string& file) const {
    struct stat st {};
    EXPECT_EQ(stat(Path(file).c_str(), &st), 0);
    return st;
  }
  /// Sets the file's mtime back to what `st` says, as `touch -r` or a careful tool would.
  void RestoreMtime(const std::string& file, const struct stat& st) const {
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(utimensat(AT_FDCWD, Path(file).c_str(), times, 0), 0);
  }
  /// Rewrites the file in place (same inode), as an editor saving in place does.
  void Overwrite(const std::string& file, const std::string& content) const {
    std::ofstream(Path(file), std::ios::binary | std::ios::trunc) << content;
  }

  testing::TempDir dir_;
  testing::TempDir cache_dir_;
};

TEST_F(ChecksumCacheTest, StoredEntriesAreFoundOnlyForTheSameStamp) {
  const int64_t now = 10 * kHour;
  ChecksumCache cache = Open(now);
  cache.Store("0001_a.up.sql", Stamp(now - kHour, now - kHour), "abc", "-- strata:no-transaction\n");
  cache.Store("tab\tand\nnewline\\.up.sql", Stamp(now - kHour, now - kHour), "def", "");
  ASSERT_TRUE(cache.Save().ok());
  struct stat st {};
  ASSERT_EQ(stat(CacheFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ChecksumCache again = Open(now);
  const FileStamp same = Stamp(now - kHour, now - kHour);
  std::optional<ChecksumCache::Entry> hit = again.Find("0001_a.up.sql", same);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->checksum, "abc");
  EXPECT_EQ(hit->directives, "-- strata:no-transaction\n");
  ASSERT_TRUE(again.Find("tab\tand\nnewline\\.up.sql", same));
  for (FileStamp other : {FileStamp{9, 2, 30, same.mtime_ns, same.ctime_ns},
                          FileStamp{1, 9, 30, same.mtime_ns, same.ctime_ns},
                          FileStamp{1, 2, 31, same.mtime_ns, same.ctime_ns},
                          FileStamp{1, 2, 30, same.mtime_ns + 1, same.ctime_ns},
                          FileStamp{1, 2, 30, same.mtime_ns, same.ctime_ns + 1}}) {
    EXPECT_FALSE(again.Find("0001_a.up.sql", other));
  }
  EXPECT_FALSE(again.Find("0002_b.up.sql", same));
}

TEST_F(ChecksumCacheTest, SaveKeepsWhatWasFoundOrStored) {
  const int64_t now = 10 * kHour;
  const FileStamp stamp = Stamp(now - kHour, now - kHour);
  ChecksumCache first = Open(now);
  for (std::string name : {"1_a.up.sql", "2_b.up.sql", "3_c.up.sql", "a\\b.up.sql"}) {
    first.Store(name, stamp, "sum of " + name, "");
  }
  ASSERT_TRUE(first.Save().ok());
  // The next run finds two, stores a changed one and a new one, and does
  // not look for 3_c (its file is gone).
  ChecksumCache second = Open(now);
  ASSERT_TRUE(second.Find("1_a.up.sql", stamp));
  ASSERT_TRUE(second.Find("a\\b.up.sql", stamp));
  second.Store("2_b.up.sql", stamp, "new sum", "");
  second.Store("0_z.up.sql", stamp, "sum of 0_z", "");
  ASSERT_TRUE(second.Save().ok());
  ChecksumCache third = Open(now);
  EXPECT_EQ(third.Find("1_a.up.sql", stamp)->checksum, "sum of 1_a.up.sql");
  EXPECT_EQ(third.Find("2_b.up.sql", stamp)->checksum, "new sum");
  EXPECT_EQ(third.Find("0_z.up.sql", stamp)->checksum, "sum of 0_z");
  EXPECT_EQ(third.Find("a\\b.up.sql", stamp)->checksum, "sum of a\\b.up.sql");
  EXPECT_FALSE(third.Find("3_c.up.sql", stamp));
}

TEST_F(ChecksumCacheTest, RecentlyChangedFilesAreNotStored) {
  const int64_t now = 10 * kHour;
  const int64_t window = std::chrono::nanoseconds(ChecksumCache::kRacyWindow).count();
  ChecksumCache cache = Open(now);
  cache.Store("old.up.sql", Stamp(now - window - 1, now - window - 1), "a", "");
  cache.Store("new_ctime.up.sql", Stamp(now - kHour, now - window), "b", "");  // mtime set back
  cache.Store("new_mtime.up.sql", Stamp(now, now - kHour), "c", "");
  cache.Store("future.up.sql", Stamp(now + kHour, now + kHour), "d", "");
  ASSERT_TRUE(cache.Save().ok());
  ChecksumCache again = Open(now);
  EXPECT_TRUE(again.Find("old.up.sql", Stamp(now - window - 1, now - window - 1)));
  EXPECT_FALSE(again.Find("new_ctime.up.sql", Stamp(now - kHour, now - window)));
  EXPECT_FALSE(again.Find("new_mtime.up.sql", Stamp(now, now - kHour)));
  EXPECT_FALSE(again.Find("future.up.sql", Stamp(now + kHour, now + kHour)));
}

TEST_F(ChecksumCacheTest, DamagedForeignOrSharedCacheFilesAreIgnored) {
  const int64_t now = 10 * kHour;
  const FileStamp stamp = Stamp(now - kHour, now - kHour);
  ChecksumCache cache = Open(now);
  cache.Store("0001_a.up.sql", stamp, "abc", "");
  ASSERT_TRUE(cache.Save().ok());
  ASSERT_TRUE(Open(now).Find("0001_a.up.sql", stamp));
  EXPECT_FALSE(ChecksumCache::Open(CacheFile(), "/other/migrations", now).Find("0001_a.up.sql", stamp));

  std::string text;
  {
    std::ifstream in(CacheFile(), std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string damaged = text;
  damaged[damaged.find("abc")] = 'x';  // a flipped byte: the trailer's hash no longer matches
  std::ofstream(CacheFile(), std::ios::binary | std::ios::trunc) << damaged;
  EXPECT_FALSE(Open(now).Find("0001_a.up.sql", stamp));
  std::ofstream(CacheFile(), std::ios::binary | std::ios::trunc) << text.substr(0, text.size() / 2);
  EXPECT_FALSE(Open(now).Find("0001_a.up.sql", stamp));

  std::ofstream(CacheFile(), std::ios::binary | std::ios::trunc) << text;
  ASSERT_TRUE(Open(now).Find("0001_a.up.sql", stamp));
  ASSERT_EQ(chmod(CacheFile().c_str(), 0620), 0);  // others could have written it
  EXPECT_FALSE(Open(now).Find("0001_a.up.sql", stamp));
}

TEST_F(ChecksumCacheTest, PathIsPerUserAndPerDirectory) {
  std::string a = ChecksumCache::PathFor("/srv/app/migrations");
  EXPECT_NE(a, ChecksumCache::PathFor("/srv/other/migrations"));
  EXPECT_EQ(a.rfind(std::string(std::getenv("XDG_CACHE_HOME")) + "/strata/", 0), 0u) << a;
}

TEST_F(ChecksumCacheTest, UnchangedFilesAreNotReadAgain) {
  dir_.Write("0001_a.up.sql", "-- strata:no-transaction\n-- strata:timeout 2m\nCREATE TABLE a (id INT);\n");
  dir_.Write("0002_b.up.sql", "CREATE TABLE b (id INT);\n");
  const int64_t later = NowNs() + kHour;  // every file counts as old
  std::vector<Migration> first = Load(later);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_FALSE(first[0].up_sql_unread);

  std::vector<Migration> second = Load(later);
  ASSERT_EQ(second.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(second[i].up_sql_unread);
    EXPECT_EQ(second[i].up_sql, "");
    EXPECT_EQ(second[i].checksum, first[i].checksum);
  }
  EXPECT_TRUE(second[0].directives.no_transaction);
  EXPECT_EQ(second[0].directives.timeout, std::chrono::minutes(2));

  ASSERT_TRUE(ReadUpScript(second[0]).ok());
  EXPECT_FALSE(second[0].up_sql_unread);
  EXPECT_EQ(second[0].up_sql, first[0].up_sql);
  EXPECT_EQ(second[0].checksum, first[0].checksum);
}

TEST_F(ChecksumCacheTest, EditKeepingSizeAndMtimeIsSeen) {
  dir_.Write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
  const int64_t later = NowNs() + kHour;
  Load(later);
  ASSERT_TRUE(Load(later)[0].up_sql_unread);  // cached
  struct stat before = Stat("0001_a.up.sql");
  // A clock tick later (ctime has at worst jiffy resolution), the same
  // number of bytes, and the old mtime put back: only the ctime tells.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Overwrite("0001_a.up.sql", "CREATE TABLE b (id INT);\n");
  RestoreMtime("0001_a.up.sql", before);
  struct stat after = Stat("0001_a.up.sql");
  ASSERT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  std::vector<Migration> loaded = Load(later);
  EXPECT_FALSE(loaded[0].up_sql_unread);
  EXPECT_EQ(loaded[0].checksum, ScriptChecksum("CREATE TABLE b (id INT);\n"));
}

TEST_F(ChecksumCacheTest, EditWithinTheSameSecondIsSeen) {
  // The real clock: the file was just written, so its stamp cannot be told
  // from one an edit within the same tick or second would leave.
  dir_.Write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
  struct stat before = Stat("0001_a.up.sql");
  std::vector<Migration> first = Load();
  EXPECT_EQ(first[0].checksum, ScriptChecksum("CREATE TABLE a (id INT);\n"));
  Overwrite("0001_a.up.sql", "CREATE TABLE b (id INT);\n");
  RestoreMtime("0001_a.up.sql", before);
  std::vector<Migration> second = Load();
  EXPECT_FALSE(second[0].up_sql_unread);
  EXPECT_EQ(second[0].checksum, ScriptChecksum("CREATE TABLE b (id INT);\n"));
}

TEST_F(ChecksumCacheTest, OldMtimeDoesNotMakeAFreshFileTrusted) {
  // `touch -d`, `cp -p`, tar and git checkouts can give a new file an old
  // mtime; its ctime still says it just changed.
  dir_.Write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
  struct stat old = Stat("0001_a.up.sql");
  old.st_mtim.tv_sec -= 3600;
  RestoreMtime("0001_a.up.sql", old);
  Load();
  Overwrite("0001_a.up.sql", "CREATE TABLE b (id INT);\n");
  RestoreMtime("0001_a.up.sql", old);
  std::vector<Migration> loaded = Load();
  EXPECT_FALSE(loaded[0].up_sql_unread);
  EXPECT_EQ(loaded[0].checksum, ScriptChecksum("CREATE TABLE b (id INT);\n"));
}

TEST_F(ChecksumCacheTest, TouchedFileIsHashedAgainAndStaysUnchanged) {
  dir_.Write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
  const int64_t later = NowNs() + kHour;
  std::string checksum = Load(later)[0].checksum;
  ASSERT_TRUE(Load(later)[0].up_sql_unread);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(utimensat(AT_FDCWD, Path("0001_a.up.sql").c_str(), nullptr, 0), 0);  // touch
  std::vector<Migration> touched = Load(later);
  EXPECT_FALSE(touched[0].up_sql_unread);
  EXPECT_EQ(touched[0].checksum, checksum);
  EXPECT_TRUE(Load(later)[0].up_sql_unread);  // and cached again
}

TEST_F(ChecksumCacheTest, ReplacedFileIsSeen) {
  // Editors that save by writing a new file and renaming it over the old one.
  dir_.Write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
  const int64_t later = NowNs() + kHour;
  Load(later);
  struct stat before = Stat("0001_a.up.sql");
  dir_.Write("new.tmp", "CREATE TABLE b (id INT);\n");
  ASSERT_EQ(rename(Path("new.tmp").c_str(), Path("0001_a.up.sql").c_str()), 0);
  RestoreMtime("0001_a.up.sql", before);
  EXPECT_EQ(Load(later)[0].checksum, ScriptChecksum("CREATE TABLE b (id INT);\n"));
}

TEST_F(ChecksumCacheTest, ReadUpScriptDescribesWhatItReads) {
  dir_.Write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
  const int64_t later = NowNs() + kHour;
  Load(later);
  std::vector<Migration> loaded = Load(later);
  ASSERT_TRUE(loaded[0].up_sql_unread);
  // Changed after loading, before the script is needed.
  Overwrite("0001_a.up.sql", "-- strata:no-transaction\nCREATE TABLE b (id INT);\n");
  ASSERT_TRUE(ReadUpScript(loaded[0]).ok());
  EXPECT_EQ(loaded[0].up_sql, "-- strata:no-transaction\nCREATE TABLE b (id INT);\n");
  EXPECT_EQ(loaded[0].checksum, ScriptChecksum(loaded[0].up_sql));
  EXPECT_TRUE(loaded[0].directives.no_transaction);
}

TEST_F(ChecksumCacheTest, BadDirectivesAreReportedEveryTime) {
  dir_.Write("0001_a.up.sql", "-- strata:tiemout 5s\nCREATE TABLE a (id INT);\n");
  LoadOptions options;
  options.use_cache = true;
  options.cache_file = CacheFile();
  options.now_ns = NowNs() + kHour;
  for (int run = 0; run < 2; ++run) {
    auto loaded = LoadMigrations(dir_.path(), options);
    ASSERT_FALSE(loaded.ok());
    EXPECT_THAT(loaded.status().message(), ::testing::HasSubstr("unknown directive 'strata:tiemout'"));
  }
}

TEST(DirectiveLines, ParseAsTheScriptDoes) {
  for (std::string script : {"", "SELECT 1;\n-- strata:no-transaction\n",
                             "-- note\n\n  -- strata:timeout 1500ms  \r\n-- strata:no-transaction\nSELECT 1;",
                             "-- strata:timeout\t5m\n"}) {
    // As read from history: a file's directive after the first statement
    // is an error (loader_test), and an erroring file is never cached.
    auto direct = ParseDirectives(script, DirectiveCheck::kStored);
    auto via_lines = ParseDirectives(DirectiveLines(script));
    ASSERT_TRUE(direct.ok() && via_lines.ok()) << script;
    EXPECT_EQ(direct->no_transaction, via_lines->no_transaction) << script;
    EXPECT_EQ(direct->timeout, via_lines->timeout) << script;
  }
  EXPECT_EQ(DirectiveLines("-- x\n-- strata:no-transaction\nSELECT 1;\n-- strata:timeout 1s\n"),
            "-- strata:no-transaction\n");
}

}  // namespace
}  // namespace strata
