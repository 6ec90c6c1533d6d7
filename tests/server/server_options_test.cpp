// The options of every service, owned by its own module and composed by even-server: --help lists
// them all, one sectioned file configures each service, old names still work with a warning, and
// a separate service skips the other services' keys in silence.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "server/server_options.h"
#include "support/process.h"
#include "support/test_env.h"

namespace {

using namespace even;
using namespace std::chrono_literals;
namespace po = config::po;

// A config file, removed at the end of the test.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text)
      : path_("/tmp/even-server_options_test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) +
              ".conf") {
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

std::string help_of(const std::string& binary) {
  std::string out;
  EXPECT_EQ(test::run_tool({test::bin(binary), "--help"}, &out), 0) << out;
  return out;
}

// even-server's options as its main() reads them.
struct ServerFlags {
  server::ServerOptions options;
  bool init_store = false;
  po::options_description desc{"even-server"};

  ServerFlags() { server::add_options(desc, options, init_store); }

  std::optional<config::Parsed> parse(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "even-server");
    flags.push_back("--insecure");  // the endpoints are tcp:// without keys (tests/security checks CURVE)
    std::vector<const char*> argv;
    for (const auto& f : flags) argv.push_back(f.c_str());
    auto parsed = config::parse_services(static_cast<int>(argv.size()), argv.data(), desc, "usage",
                                         server::hosted_sections());
    if (parsed) server::finish_options(parsed->vm, options);
    return parsed;
  }
};

TEST(ServerOptionsTest, ServerHelpListsTheOptionsOfEveryHostedService) {
  const std::string help = help_of("services/server/even-server");
  for (const char* option :
       {"--writer.batch-window-us", "--writer.max-batch-events", "--writer.recv-hwm", "--writer.no-standby",
        "--reader.page-max-events", "--reader.page-max-bytes", "--reader.workers", "--reader.recv-hwm",
        "--dispatcher.gap-wait-ms", "--dispatcher.hole-check-ms", "--dispatcher.hole-settle-ms",
        "--dispatcher.hole-safety-ms", "--dispatcher.heartbeat-ms", "--projector.max-batch-events",
        "--projector.queue-events", "--projector.progress-interval-ms", "--projector.retry-ms",
        "--projector.feed-timeout-ms", "--projections", "--query-db-url", "--query-db-name", "--timeout-ms",
        "--writer-endpoint", "--reader-endpoint", "--dispatcher-pub-endpoint", "--db-url", "--log-level"})
    EXPECT_NE(help.find(option), std::string::npos) << option << " missing in\n" << help;
}

TEST(ServerOptionsTest, EachServiceHelpListsItsSection) {
  EXPECT_NE(help_of("services/writer/even-writer").find("--writer.batch-window-us"), std::string::npos);
  EXPECT_NE(help_of("services/reader/even-reader").find("--reader.page-max-events"), std::string::npos);
  EXPECT_NE(help_of("services/dispatcher/even-dispatcher").find("--dispatcher.gap-wait-ms"), std::string::npos);
  EXPECT_NE(help_of("services/projector/even-projector").find("--projector.queue-events"), std::string::npos);
}

TEST(ServerOptionsTest, ASectionedFileConfiguresEachService) {
  ConfigFile file(
      "db-url = tcp://10.0.0.5:3306\n"
      "db-name = shop\n"
      "writer-endpoint = tcp://10.0.0.1:6550\n"
      "reader-endpoint = tcp://10.0.0.1:6553\n"
      "dispatcher-pub-endpoint = tcp://10.0.0.1:6552\n"
      "query-db-name = shop_query\n"
      "timeout-ms = 4000\n"
      "[writer]\n"
      "recv-hwm = 111\n"
      "max-batch-events = 112\n"
      "batch-window-us = 113\n"
      "lock-name = shop-master\n"
      "no-standby = true\n"
      "[dispatcher]\n"
      "heartbeat-ms = 41\n"
      "gap-wait-ms = 42\n"
      "hole-check-ms = 43\n"
      "hole-settle-ms = 44\n"
      "hole-safety-ms = 45\n"
      "[reader]\n"
      "recv-hwm = 211\n"
      "workers = 3\n"
      "page-max-events = 212\n"
      "page-max-bytes = 213000\n"
      "[projector]\n"
      "max-batch-events = 311\n"
      "queue-events = 312\n"
      "progress-interval-ms = 313\n"
      "retry-ms = 314\n"
      "feed-timeout-ms = 315\n");
  ServerFlags f;
  auto parsed = f.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->warnings.empty()) << parsed->warnings.front();
  const auto& s = f.options;
  EXPECT_EQ(s.db.url, "tcp://10.0.0.5:3306");
  EXPECT_EQ(s.db.name, "shop");
  EXPECT_EQ(s.writer.endpoint, "tcp://10.0.0.1:6550");
  EXPECT_EQ(s.writer.recv_hwm, 111);
  EXPECT_EQ(s.writer.max_batch_events, 112u);
  EXPECT_EQ(s.writer.batch_window_us, 113);
  EXPECT_EQ(s.writer.committer.lock_name, "shop-master");
  EXPECT_FALSE(s.writer.committer.standby);
  EXPECT_EQ(s.dispatcher.pub_endpoint, "tcp://10.0.0.1:6552");
  EXPECT_EQ(s.dispatcher.heartbeat, 41ms);
  EXPECT_EQ(s.dispatcher.gap.gap_wait, 42ms);
  EXPECT_EQ(s.dispatcher.gap.hole_check, 43ms);
  EXPECT_EQ(s.dispatcher.gap.hole_settle, 44ms);
  EXPECT_EQ(s.dispatcher.gap.hole_safety, 45ms);
  EXPECT_EQ(s.reader.endpoint, "tcp://10.0.0.1:6553");
  EXPECT_EQ(s.reader.recv_hwm, 211);
  EXPECT_EQ(s.reader.workers, 3);
  EXPECT_EQ(s.reader.worker.page.max_events, 212u);
  EXPECT_EQ(s.reader.worker.page.max_bytes, 213000u);
  EXPECT_EQ(s.projector.runner.max_batch_events, 311u);
  EXPECT_EQ(s.projector.runner.queue_events, 312u);
  EXPECT_EQ(s.projector.runner.progress_interval, 313ms);
  EXPECT_EQ(s.projector.runner.retry_after, 314ms);
  EXPECT_EQ(s.projector.runner.subscription.feed_timeout, 315ms);
  EXPECT_EQ(s.projector.client.timeout, 4000ms);
  EXPECT_EQ(s.projector.query_db.name, "shop_query");
  EXPECT_EQ(s.projector.query_db.url, "tcp://10.0.0.5:3306") << "the query database defaults to the store's server";
}

TEST(ServerOptionsTest, OldNamesStillWorkWithAWarning) {
  ConfigFile file("gap-wait-ms = 7\nworkers = 2\n");
  ServerFlags f;
  auto parsed = f.parse({"--config", file.path(), "--max-batch-events", "99", "--heartbeat-ms", "50"});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(f.options.dispatcher.gap.gap_wait, 7ms);
  EXPECT_EQ(f.options.reader.workers, 2);
  EXPECT_EQ(f.options.dispatcher.heartbeat, 50ms);
  // The writer's and the projector's option had that name.
  EXPECT_EQ(f.options.writer.max_batch_events, 99u);
  EXPECT_EQ(f.options.projector.runner.max_batch_events, 99u);
  std::string all;
  for (const auto& w : parsed->warnings) all += w + "\n";
  EXPECT_EQ(parsed->warnings.size(), 4u) << all;
  EXPECT_NE(all.find(file.path() + ": key 'gap-wait-ms' at the top is an old name: write it under [dispatcher]"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("--max-batch-events is an old name: use --writer.max-batch-events and "
                     "--projector.max-batch-events"),
            std::string::npos)
      << all;
}

TEST(ServerOptionsTest, BadValuesNameTheirFlag) {
  try {
    ServerFlags().parse({"--reader.workers", "0"});
    FAIL() << "accepted 0 workers";
  } catch (const po::error& e) {
    EXPECT_NE(std::string(e.what()).find("--reader.workers"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ServerFlags().parse({"--dispatcher.heartbeat-ms", "0"}), po::error);
  EXPECT_THROW(ServerFlags().parse({"--projector.queue-events", "0"}), po::error);
}

// A real even-server and a real even-reader on one file: the server logs what it cannot read,
// naming key and file; the reader reads its section and skips the other services' keys.
TEST(ServerOptionsTest, ProcessesWarnAboutUnknownAndOldKeysAndSkipOtherServices) {
  test::TestStore store;
  const std::string writer = test::loopback_endpoint(), reader = test::loopback_endpoint(),
                    feed = test::loopback_endpoint();
  ConfigFile file("writer-endpoint = " + writer + "\nreader-endpoint = " + reader +
                  "\ndispatcher-pub-endpoint = " + feed + "\ndispatcher-pull-endpoint = " + test::loopback_endpoint() +
                  "\nhole-settle-ms = 90\nno-such-key = 1\n"
                  "[writer]\nbatch-window-us = 0\n"
                  "[dispatcher]\nheartbeat-ms = 40\ngap-wait-ms = 2\n"
                  "[reader]\nworkers = 3\npage-max-events = 7\nno-such-reader-key = 2\n"
                  "[projector]\nqueue-events = 100\n");
  const std::string log_base = "/tmp/even-ServerOptionsTest-" + std::to_string(::getpid());
  {
    std::vector<std::string> argv = {test::bin("services/server/even-server"), "--config", file.path()};
    for (auto& f : test::db_flags(store.db())) argv.push_back(f);
    test::Process server(argv, log_base + "-server.log");
    ASSERT_TRUE(server.wait_for_log("serving appends", 20s)) << server.log();
    EXPECT_TRUE(server.wait_for_log("with 3 workers (pages of at most 7 events", 10s)) << server.log();
    EXPECT_TRUE(server.wait_for_log("heartbeat 40 ms, gap wait 2 ms", 10s)) << server.log();
    const std::string log = server.log();
    EXPECT_NE(log.find(file.path() + ": unknown key 'no-such-key' (ignored)"), std::string::npos) << log;
    EXPECT_NE(log.find(file.path() + ": unknown key 'no-such-reader-key' in [reader] (ignored)"), std::string::npos)
        << log;
    EXPECT_NE(log.find(file.path() + ": key 'hole-settle-ms' at the top is an old name: write it under [dispatcher]"),
              std::string::npos)
        << log;
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(10s), 0) << server.log();
  }
  {
    std::vector<std::string> argv = {test::bin("services/reader/even-reader"), "--config", file.path()};
    for (auto& f : test::db_flags(store.db())) argv.push_back(f);
    test::Process even_reader(argv, log_base + "-reader.log");
    ASSERT_TRUE(even_reader.wait_for_log("serving reads", 20s)) << even_reader.log();
    const std::string log = even_reader.log();
    EXPECT_NE(log.find("with 3 workers (pages of at most 7 events"), std::string::npos) << log;
    EXPECT_NE(log.find("unknown key 'no-such-key'"), std::string::npos) << log;
    EXPECT_NE(log.find("unknown key 'no-such-reader-key' in [reader]"), std::string::npos) << log;
    // The writer's, the dispatcher's and the projector's keys (old names too) are not its business.
    for (const char* other : {"hole-settle-ms", "batch-window-us", "heartbeat-ms", "gap-wait-ms", "queue-events",
                              "dispatcher-pull-endpoint"})
      EXPECT_EQ(log.find(other), std::string::npos) << other << " in\n" << log;
    even_reader.signal(SIGTERM);
    EXPECT_EQ(even_reader.wait(10s), 0) << even_reader.log();
  }
  std::remove((log_base + "-server.log").c_str());
  std::remove((log_base + "-reader.log").c_str());
}

}  // namespace
