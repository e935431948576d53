#include "migration/checksum.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

TEST(NormalizeScript, IgnoresLineEndingsAndTrailingWhitespace) {
  EXPECT_EQ(NormalizeScript(""), "");
  EXPECT_EQ(NormalizeScript("\n\n"), "");
  EXPECT_EQ(NormalizeScript("a"), "a\n");
  EXPECT_EQ(NormalizeScript("a  \r\nb\t\r\n\r\n\n"), "a\nb\n");
  EXPECT_EQ(NormalizeScript("a\rb"), "a\nb\n");
  EXPECT_EQ(NormalizeScript("\xEF\xBB\xBFx\n"), "x\n");
  EXPECT_EQ(NormalizeScript("  \n a\n"), "\n a\n");  // leading indentation is content
}

TEST(ScriptChecksum, StableAcrossEditorsAndSensitiveToEdits) {
  std::string unix_text = "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);\n";
  std::string windows_text = "CREATE TABLE t (id INTEGER);  \r\nINSERT INTO t VALUES (1);\r\n\r\n";
  EXPECT_EQ(ScriptChecksum(unix_text), ScriptChecksum(windows_text));
  EXPECT_NE(ScriptChecksum(unix_text), ScriptChecksum("CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (2);\n"));
  EXPECT_NE(ScriptChecksum("a b"), ScriptChecksum("a  b"));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace strata
