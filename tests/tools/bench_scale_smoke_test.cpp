// even-bench scale, tiny: two sizes (0 and 20,000 events), one second a case. Not a measurement
// (the figures of so short a run mean little): it checks that every case runs against real
// services at each size and prints a well-formed line, and that the charts are drawn.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/process.h"
#include "support/test_env.h"

namespace even::test {
namespace {

TEST(BenchScaleSmoke, EveryCaseAtEverySizePrintsItsFiguresAndTheChartsAreDrawn) {
  TestStore server;  // only for its connection options: the bench makes its own scratch store
  const std::string charts = ::testing::TempDir() + "/scale-charts-" + std::to_string(::getpid());
  std::vector<std::string> argv = {bin("tools/even-bench"), "scale", "--sizes", "0,20000", "--seconds", "1",
                                   "--streams", "1000", "--append-rounds", "1", "--charts", charts};
  for (auto& f : db_flags(server.db())) argv.push_back(f);
  std::string out;
  ASSERT_EQ(run_tool(argv, &out), 0) << out;

  std::map<std::uint64_t, std::map<std::string, nlohmann::json>> lines;  // size -> case -> line
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("{\"bench\":\"scale\"", 0) != 0) continue;
    auto j = nlohmann::json::parse(line);
    lines[j.at("size").get<std::uint64_t>()][j.at("case").get<std::string>()] = j;
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  for (std::uint64_t size : {0ull, 20000ull}) {
    auto& at = lines[size];
    for (const char* c : {"append_buffered", "append_serial", "read_all", "read_category", "read_type", "catch_up",
                          "rebuild"}) {
      ASSERT_TRUE(at.count(c)) << "no " << c << " line at size " << size << "\n" << out;
      EXPECT_GT(at[c].at("events_per_s").get<double>(), 0) << at[c].dump();
      EXPECT_GT(at[c].at("raw_events_per_s").get<double>(), 0) << at[c].dump();
      EXPECT_TRUE(at[c].contains("ratio_to_raw")) << at[c].dump();
      EXPECT_TRUE(at[c].contains("ratio_to_empty")) << at[c].dump();
    }
    ASSERT_TRUE(at.count("read_stream")) << out;
    EXPECT_GT(at["read_stream"].at("p99_ms").get<double>(), 0);
    EXPECT_GE(at["read_stream"].at("p99_ms").get<double>(), at["read_stream"].at("p50_ms").get<double>());
    ASSERT_TRUE(at.count("rss")) << out;
    EXPECT_GT(at["rss"].at("writer_peak_mb").get<double>(), 0);
    EXPECT_GT(at["rss"].at("reader_peak_mb").get<double>(), 0);
    EXPECT_GT(at["rss"].at("dispatcher_peak_mb").get<double>(), 0);
    EXPECT_EQ(at["append_buffered"].at("errors").get<double>(), 0);
    EXPECT_EQ(at["append_serial"].at("errors").get<double>(), 0);
    for (const char* c : {"append_buffered", "append_serial"}) {  // one round: it is the median, min and max
      EXPECT_EQ(at[c].at("rounds").get<double>(), 1) << at[c].dump();
      EXPECT_EQ(at[c].at("events_per_s_min").get<double>(), at[c].at("events_per_s").get<double>()) << at[c].dump();
      EXPECT_EQ(at[c].at("events_per_s_max").get<double>(), at[c].at("events_per_s").get<double>()) << at[c].dump();
    }
    EXPECT_TRUE(at["load"].contains("settle_seconds")) << at["load"].dump();
  }
  EXPECT_GE(lines[20000]["load"].at("head").get<double>(), 20000);
  // The rebuild projected every event of its types once (the bench checks it against the raw way).
  EXPECT_GT(lines[20000]["rebuild"].at("events").get<double>(), lines[0]["rebuild"].at("events").get<double>());

  for (const char* figure : {"scale-appends", "scale-reads", "scale-read-stream", "scale-rss"}) {
    const std::string png = charts + "/" + figure + ".png";
    std::ifstream f(png, std::ios::binary);
    char magic[8] = {};
    f.read(magic, sizeof magic);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << png;
  }
  std::filesystem::remove_all(charts);
}

}  // namespace
}  // namespace even::test
