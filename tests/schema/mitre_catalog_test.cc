#include "schema/mitre_catalog.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes/temp_dir.h"

namespace vv::schema {
namespace {

constexpr char kTactics[] =
    "tactic_id\tshortname\tname\n"
    "TA0002\texecution\tExecution\n"
    "TA0005\tdefense-evasion\tDefense Evasion\n";
constexpr char kTechHeader[] =
    "technique_id\tname\ttactics\tis_subtechnique\tdeprecated\trevoked\tplatforms\n";

TEST(MitreCatalogTest, LoadsShippedCatalog) {
  Result<MitreCatalog> cat = MitreCatalog::Load();
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  EXPECT_EQ(cat->technique_count(), 835u);
  EXPECT_EQ(cat->tactic_count(), 14u);
  EXPECT_TRUE(cat->TechniqueActive("T1059"));
  EXPECT_TRUE(cat->TechniqueActive("T1059.001"));
  EXPECT_TRUE(cat->TacticBelongsToTechnique("TA0002", "T1059.001"));
  EXPECT_FALSE(cat->TacticBelongsToTechnique("TA0040", "T1059.001"));
  EXPECT_FALSE(cat->TechniqueExists("T9999"));
  EXPECT_FALSE(cat->TechniqueExists("t1059"));
  EXPECT_TRUE(cat->TacticExists("TA0043"));
  EXPECT_FALSE(cat->TacticExists("TA0012"));
  // Taken from the TSV: T1002 is revoked, T1026 deprecated.
  ASSERT_TRUE(cat->TechniqueExists("T1002"));
  EXPECT_TRUE(cat->FindTechnique("T1002")->revoked);
  EXPECT_FALSE(cat->TechniqueActive("T1002"));
  ASSERT_TRUE(cat->TechniqueExists("T1026"));
  EXPECT_TRUE(cat->FindTechnique("T1026")->deprecated);
  EXPECT_FALSE(cat->TechniqueActive("T1026"));
}

TEST(MitreCatalogTest, MultiTacticTechniqueMapsShortnamesToIds) {
  std::string tech = std::string(kTechHeader) +
                     "T1055\tProcess Injection\tdefense-evasion,execution\tfalse\tfalse\tfalse\t"
                     "Linux,Windows\n";
  Result<MitreCatalog> cat = MitreCatalog::FromTsv(tech, kTactics);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  const TechniqueInfo* t = cat->FindTechnique("T1055");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->tactic_ids, (std::vector<std::string>{"TA0005", "TA0002"}));
  EXPECT_EQ(t->platforms, (std::vector<std::string>{"Linux", "Windows"}));
}

TEST(MitreCatalogTest, MalformedLineNamesFileAndLine) {
  std::string tech = std::string(kTechHeader) +
                     "T1055\tProcess Injection\texecution\tfalse\tfalse\tfalse\tLinux\n"
                     "T1056\tInput Capture\texecution\tfalse\tfalse\n";
  Result<MitreCatalog> cat = MitreCatalog::FromTsv(tech, kTactics, "tech.tsv", "tac.tsv");
  ASSERT_FALSE(cat.ok());
  EXPECT_NE(cat.status().message().find("tech.tsv:3"), std::string::npos)
      << cat.status().message();
}

TEST(MitreCatalogTest, UnknownTacticShortnameRejected) {
  std::string tech = std::string(kTechHeader) +
                     "T1055\tProcess Injection\tlateral-movement\tfalse\tfalse\tfalse\tLinux\n";
  Result<MitreCatalog> cat = MitreCatalog::FromTsv(tech, kTactics, "tech.tsv", "tac.tsv");
  ASSERT_FALSE(cat.ok());
  EXPECT_NE(cat.status().message().find("tech.tsv:2"), std::string::npos);
  EXPECT_NE(cat.status().message().find("lateral-movement"), std::string::npos);
}

TEST(MitreCatalogTest, BadBooleanAndBadIdAndDuplicatesRejected) {
  EXPECT_FALSE(MitreCatalog::FromTsv(std::string(kTechHeader) +
                                         "T1055\tX\texecution\tno\tfalse\tfalse\tLinux\n",
                                     kTactics)
                   .ok());
  EXPECT_FALSE(MitreCatalog::FromTsv(std::string(kTechHeader) +
                                         "X1055\tX\texecution\tfalse\tfalse\tfalse\tLinux\n",
                                     kTactics)
                   .ok());
  EXPECT_FALSE(MitreCatalog::FromTsv(std::string(kTechHeader) +
                                         "T1055.001\tX\texecution\tfalse\tfalse\tfalse\tLinux\n",
                                     kTactics)
                   .ok());  // is_subtechnique disagrees with the id
  EXPECT_FALSE(MitreCatalog::FromTsv(std::string(kTechHeader) +
                                         "T1055\tX\texecution\tfalse\tfalse\tfalse\tLinux\n"
                                         "T1055\tX\texecution\tfalse\tfalse\tfalse\tLinux\n",
                                     kTactics)
                   .ok());
  Result<MitreCatalog> bad_tac = MitreCatalog::FromTsv(
      std::string(kTechHeader) + "T1055\tX\texecution\tfalse\tfalse\tfalse\tLinux\n",
      "tactic_id\tshortname\tname\nTAXXXX\texecution\tExecution\n", "tech.tsv", "tac.tsv");
  ASSERT_FALSE(bad_tac.ok());
  EXPECT_NE(bad_tac.status().message().find("tac.tsv:2"), std::string::npos);
  EXPECT_FALSE(MitreCatalog::FromTsv("wrong header\n", kTactics).ok());
}

TEST(MitreCatalogTest, LoadFromDirectoryReportsFilePathAndLine) {
  vv::testing::TempDir dir;
  vv::testing::WriteFile(dir.File("enterprise-attack-tactics.tsv"), kTactics);
  vv::testing::WriteFile(dir.File("enterprise-attack-techniques.tsv"),
                         std::string(kTechHeader) + "T1055\tX\texecution\tfalse\n");
  Result<MitreCatalog> cat = MitreCatalog::Load(dir.path().string());
  ASSERT_FALSE(cat.ok());
  EXPECT_NE(cat.status().message().find(dir.File("enterprise-attack-techniques.tsv") + ":2"),
            std::string::npos)
      << cat.status().message();
}

TEST(MitreCatalogTest, MissingDirectoryIsCleanError) {
  Result<MitreCatalog> cat = MitreCatalog::Load("/nonexistent/mitre");
  ASSERT_FALSE(cat.ok());
  EXPECT_NE(cat.status().message().find("/nonexistent/mitre"), std::string::npos);
}

}  // namespace
}  // namespace vv::schema
