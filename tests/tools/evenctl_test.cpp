// evenctl's argument handling against real processes: what it refuses (with exit code 2 and a
// message, storing and printing nothing), and the ways it takes a payload; `evenctl stats --watch`
// refreshing in place until SIGINT or SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "reader/reader_cluster.h"

namespace even::test {
namespace {

class Evenctl : public ::testing::Test {
 protected:
  ReaderCluster cluster;

  // Runs evenctl COMMAND ARGS... with the cluster's endpoints; returns the exit code, *out gets
  // stdout and stderr.
  int run(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), bin("tools/evenctl"));
    for (const auto& a : std::vector<std::string>{"--writer-endpoint", cluster.writer_endpoint, "--reader-endpoint",
                                                  cluster.reader_endpoint, "--timeout-ms", "10000"})
      args.push_back(a);
    return run_tool(args, out);
  }
  std::int64_t stored() { return cluster.store.scalar("SELECT COUNT(*) FROM events"); }
  std::string temp_file(const std::string& name, const std::string& content) {
    const std::string path = ::testing::TempDir() + "evenctl_test_" + std::to_string(::getpid()) + "_" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

// read-all, read and tail refuse a negative --from (it used to wrap to 2^64-1: nothing printed,
// exit 0).
TEST_F(Evenctl, ANegativeFromIsRefused) {
  cluster.append_n("acct-1", "Opened", 3);
  std::string out;
  EXPECT_EQ(run({"read-all", "--from", "-1"}, &out), 2) << out;
  EXPECT_NE(out.find("--from must be a global sequence"), std::string::npos) << out;
  EXPECT_EQ(run({"read-all", "--from=-5"}, &out), 2) << out;
  EXPECT_EQ(run({"read-all", "--from", "x1"}, &out), 2) << out;
  EXPECT_EQ(run({"read", "acct-1", "--from", "-2"}, &out), 2) << out;
  EXPECT_NE(out.find("--from must be a stream sequence >= 0"), std::string::npos) << out;
  // (Bounded by timeout(1): before, tail waited forever for events from 2^64-1 on.)
  EXPECT_EQ(run_tool({"timeout", "20", bin("tools/evenctl"), "tail", "--from", "-1", "--reader-endpoint",
                      cluster.reader_endpoint},
                     &out),
            2)
      << out;
  // The valid forms still work.
  ASSERT_EQ(run({"read-all", "--from", "2"}, &out), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  ASSERT_EQ(run({"read-all"}, &out), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3) << out;
}

// Versions start at 1; --expected 0 is refused with the text that says so (it used to mean
// no-stream while the message said versions are >= 1).
TEST_F(Evenctl, ExpectedZeroIsRefusedAndNoStreamSaysWhatItMeans) {
  std::string out;
  EXPECT_EQ(run({"append", "acct-1", "--type", "Opened", "--expected", "0"}, &out), 2) << out;
  EXPECT_NE(out.find("use no-stream"), std::string::npos) << out;
  EXPECT_EQ(stored(), 0);
  ASSERT_EQ(run({"append", "acct-1", "--type", "Opened", "--expected", "no-stream"}, &out), 0) << out;
  ASSERT_EQ(run({"append", "acct-1", "--type", "Deposited", "--expected", "1"}, &out), 0) << out;
  EXPECT_EQ(run({"append", "acct-1", "--type", "Deposited", "--expected", "no-stream"}, &out), 4) << out;
  EXPECT_EQ(stored(), 2);
}

// A payload from a file or from stdin, of any size up to the message limit, stored byte for byte.
TEST_F(Evenctl, AppendTakesThePayloadFromAFileOrStdin) {
  std::string big = "{\"blob\":\"" + std::string(3u << 20, 'b') + "\"}";  // 3 MiB: too long for a command line
  const auto file = temp_file("big.json", big);
  std::string out;
  ASSERT_EQ(run({"append", "big-1", "--type", "Loaded", "--data-file", file}, &out), 0) << out.substr(0, 500);
  std::vector<std::string> sh = {"/bin/sh", "-c",
                                 "\"$0\" append big-2 --type Piped --data - --format binary --writer-endpoint \"$1\" --insecure < \"$2\"",
                                 bin("tools/evenctl"), cluster.writer_endpoint,
                                 temp_file("bytes.bin", std::string("\0\1\2 piped \xff", 12))};
  ASSERT_EQ(run_tool(sh, &out), 0) << out;
  auto from_file = cluster.client().read_stream("big-1", StreamSeq(1)).to_vector();
  ASSERT_EQ(from_file.size(), 1u);
  EXPECT_TRUE(from_file[0].payload == big) << "stored " << from_file[0].payload.size() << " bytes";
  auto piped = cluster.client().read_stream("big-2", StreamSeq(1)).to_vector();
  ASSERT_EQ(piped.size(), 1u);
  EXPECT_EQ(piped[0].payload, std::string("\0\1\2 piped \xff", 12));
  // Both at once is a usage error; a missing file is an error; neither stores anything.
  EXPECT_EQ(run({"append", "big-3", "--type", "Loaded", "--data", "{}", "--data-file", file}, &out), 2) << out;
  EXPECT_NE(run({"append", "big-3", "--type", "Loaded", "--data-file", file + ".missing"}, &out), 0) << out;
  EXPECT_NE(out.find("cannot read --data-file"), std::string::npos) << out;
  EXPECT_EQ(stored(), 2);
}

// A payload declared JSON (the default) must parse: otherwise exit 1 with the parser's message,
// and nothing is stored. --format binary stores any bytes.
TEST_F(Evenctl, InvalidJsonIsRefusedBeforeItIsSent) {
  std::string out;
  EXPECT_EQ(run({"append", "acct-1", "--type", "Opened", "--data", "{\"owner\": ann}"}, &out), 1) << out;
  EXPECT_NE(out.find("not JSON"), std::string::npos) << out;
  EXPECT_NE(out.find("invalidEvent"), std::string::npos) << out;
  EXPECT_EQ(stored(), 0);
  ASSERT_EQ(run({"append", "acct-1", "--type", "Opened", "--data", "{\"owner\": ann}", "--format", "binary"}, &out), 0)
      << out;
  EXPECT_EQ(stored(), 1);
}

// The screens of `evenctl stats --watch` in `out`: each starts by clearing the terminal.
std::vector<std::string> screens_of(const std::string& out) {
  const std::string clear = "\033[H\033[2J";
  std::vector<std::string> screens;
  for (auto at = out.find(clear); at != std::string::npos;) {
    const auto next = out.find(clear, at + clear.size());
    screens.push_back(out.substr(at + clear.size(), next == std::string::npos ? std::string::npos
                                                                               : next - at - clear.size()));
    at = next;
  }
  return screens;
}

// --watch refreshes in place every interval, each screen with the reader's state and request
// rate, and exits 0 on SIGINT and on SIGTERM.
TEST(EvenctlStats, WatchRefreshesInPlaceUntilSigintOrSigterm) {
  const std::string http = loopback_endpoint().substr(6);
  ReaderCluster cluster({{"--metrics-endpoint", http}});
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string log =
        ::testing::TempDir() + "evenctl_stats_watch_" + std::to_string(::getpid()) + "_" + std::to_string(sig) + ".log";
    Process watch({bin("tools/evenctl"), "stats", "--watch", "--endpoint", http, "--interval-ms", "100"}, log);
    // Reads between the refreshes: the rate column has something to show.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::vector<std::string> screens;
    for (;;) {
      cluster.client().head();
      screens = screens_of(watch.log());
      std::size_t ready = 0;
      for (const auto& s : screens)
        if (s.find("SERVICE") == 0 && s.find("reader") != std::string::npos && s.find("ready") != std::string::npos) ++ready;
      if (ready >= 3 || std::chrono::steady_clock::now() > deadline || !watch.running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(screens.size(), 3u) << watch.log() << cluster.reader().log();
    const std::string last = screens[screens.size() - 2];  // the last complete one
    EXPECT_NE(last.find("reader"), std::string::npos) << last;
    EXPECT_NE(last.find("ready"), std::string::npos) << last;
    EXPECT_NE(last.find("requests/s"), std::string::npos) << last;
    EXPECT_NE(last.find(http), std::string::npos) << last;

    watch.signal(sig);
    EXPECT_EQ(watch.wait(std::chrono::seconds(10)), 0) << "signal " << sig << "\n" << watch.log();
  }
}

}  // namespace
}  // namespace even::test
