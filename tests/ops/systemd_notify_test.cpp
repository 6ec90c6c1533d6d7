// The real service binaries under a stand-in for systemd: each one is started with NOTIFY_SOCKET
// pointing at a datagram socket of the test (the way systemd starts a Type=notify unit), and the
// test checks what it says and when: READY=1 only once it can serve (the writer: once it holds
// the master lock and has bound its endpoint, or as a standby that says so), STATUS= lines,
// STOPPING=1 on SIGTERM, and WATCHDOG=1 pings that stop when a loop is stuck.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "dispatcher/cluster.h"
#include "even/client/client.h"
#include "even/common/net.h"
#include "support/notify_socket.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

class SystemdNotifyTest : public ::testing::Test {
 protected:
  std::string log_path(const std::string& name) const {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return "/tmp/even-SystemdNotify." + std::string(info->name()) + "-" + name + "-" + std::to_string(::getpid()) +
           ".log";
  }
  // Starts `binary` (relative to the build folder) with `args` and the store's flags, telling it
  // about `socket` and, when given, a watchdog.
  std::unique_ptr<Process> start(const std::string& binary, std::vector<std::string> args, const NotifySocket* socket,
                                 std::chrono::microseconds watchdog = {}, const config::DbOptions* db = nullptr) {
    std::vector<std::string> argv = {bin(binary)};
    for (auto& a : args) argv.push_back(a);
    for (auto& f : db_flags(db ? *db : store_.db())) argv.push_back(f);
    std::vector<std::string> env = {"NOTIFY_SOCKET=" + (socket ? socket->path() : std::string())};
    if (watchdog.count() > 0) env.push_back("WATCHDOG_USEC=" + std::to_string(watchdog.count()));
    auto name = binary.substr(binary.rfind('/') + 1);
    return std::make_unique<Process>(argv, log_path(name + std::to_string(runs_++)), env);
  }
  // The message that carried READY=1 (nullopt when none came within `timeout`).
  static std::optional<std::string> wait_ready(NotifySocket& socket, std::chrono::milliseconds timeout) {
    if (!socket.wait_for("READY=1", timeout)) return std::nullopt;
    return socket.seen().back();
  }
  // SIGTERM: STOPPING=1 is said before the process exits 0.
  static void expect_clean_stop(Process& p, NotifySocket& socket) {
    p.signal(SIGTERM);
    EXPECT_TRUE(socket.wait_for("STOPPING=1", 10s)) << socket.seen_text() << p.log();
    EXPECT_EQ(p.wait(10s), 0) << p.log();
  }
  client::ClientOptions client_options(const std::string& writer, const std::string& reader = "",
                                       std::chrono::milliseconds timeout = 10s) const {
    client::ClientOptions o;
    o.writer_endpoint = writer;
    if (!reader.empty()) o.reader_endpoint = reader;
    o.timeout = timeout;
    o.resend_after = std::min<std::chrono::milliseconds>(timeout, 3s);
    return o;
  }
  static std::vector<client::NewEvent> one_event(const std::string& type = "Pinged") {
    client::NewEvent e;
    e.type = type;
    e.payload = "{}";
    return {e};
  }

  TestStore store_;
  int runs_ = 0;
};

TEST_F(SystemdNotifyTest, WriterIsReadyOnceItHoldsTheLockAndServes) {
  NotifySocket socket;
  const auto endpoint = loopback_endpoint();
  auto writer = start("services/writer/even-writer", {"--writer-endpoint", endpoint}, &socket);
  auto ready = wait_ready(socket, 20s);
  ASSERT_TRUE(ready) << socket.seen_text() << writer->log();
  EXPECT_NE(ready->find("STATUS=master; serving appends on " + endpoint), std::string::npos) << *ready;
  // By READY=1 the lock is held and the ROUTER bound: the first append goes through at once.
  EXPECT_EQ(store_.scalar("SELECT IS_USED_LOCK('even-writer:" + store_.db().name + "') IS NOT NULL"), 1);
  client::Client client(client_options(endpoint, "", 3s));
  EXPECT_NO_THROW(client.append("notify-1", ExpectedVersion::any(), one_event()));
  // Nothing came before the role was known.
  for (const auto& m : socket.seen()) {
    if (m.find("READY=1") != std::string::npos) break;
    EXPECT_EQ(m.find("standby"), std::string::npos) << m;
  }
  // The status line tells the rate.
  EXPECT_TRUE(socket.wait_for("appends/s", 10s)) << socket.seen_text();
  expect_clean_stop(*writer, socket);
  EXPECT_EQ(writer->log().find("error"), std::string::npos) << writer->log();
}

TEST_F(SystemdNotifyTest, StandbyWriterIsReadyAndSaysItWaitsForTheLock) {
  // The test holds the master lock, as another writer would.
  auto holder = store_.connect();
  const std::string lock = "even-writer:" + store_.db().name;
  ASSERT_EQ(holder->query_int("SELECT GET_LOCK('" + lock + "', 0)").value_or(0), 1);

  NotifySocket socket;
  const auto endpoint = loopback_endpoint();
  auto writer = start("services/writer/even-writer", {"--writer-endpoint", endpoint}, &socket);
  auto ready = wait_ready(socket, 20s);
  ASSERT_TRUE(ready) << socket.seen_text() << writer->log();
  EXPECT_NE(ready->find("STATUS=standby, waiting for the master lock '" + lock + "'"), std::string::npos) << *ready;
  EXPECT_EQ(socket.seen_text().find("master;"), std::string::npos) << socket.seen_text();
  // A standby holds no socket: an append to its endpoint is not answered.
  {
    client::Client client(client_options(endpoint, "", 1500ms));
    EXPECT_ANY_THROW(client.append("notify-1", ExpectedVersion::any(), one_event()));
  }
  // The lock comes free: it becomes master and says so.
  holder->query_int("SELECT RELEASE_LOCK('" + lock + "')");
  EXPECT_TRUE(socket.wait_for("STATUS=master; serving appends on " + endpoint, 20s)) << socket.seen_text();
  client::Client client(client_options(endpoint, "", 5s));
  EXPECT_NO_THROW(client.append("notify-1", ExpectedVersion::any(), one_event()));
  EXPECT_EQ(count_containing(socket.seen(), "READY=1"), 1) << socket.seen_text();
  expect_clean_stop(*writer, socket);
}

TEST_F(SystemdNotifyTest, ReaderIsReadyOnlyOnceItReachesTheStore) {
  // A store that is not there: bound, but not ready.
  {
    NotifySocket socket;
    auto nowhere = store_.db();
    nowhere.url = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
    auto reader = start("services/reader/even-reader", {"--reader-endpoint", loopback_endpoint()}, &socket, {}, &nowhere);
    auto got = socket.collect(3s);
    EXPECT_EQ(count_containing(got, "READY=1"), 0) << socket.seen_text();
    EXPECT_GE(count_containing(got, "waiting for the store"), 1) << socket.seen_text();
    expect_clean_stop(*reader, socket);
  }
  NotifySocket socket;
  const auto endpoint = loopback_endpoint();
  auto reader = start("services/reader/even-reader", {"--reader-endpoint", endpoint, "--reader.workers", "2"}, &socket);
  auto ready = wait_ready(socket, 20s);
  ASSERT_TRUE(ready) << socket.seen_text() << reader->log();
  EXPECT_NE(ready->find("STATUS=serving reads on " + endpoint), std::string::npos) << *ready;
  client::Client client(client_options(loopback_endpoint(), endpoint, 3s));
  EXPECT_EQ(client.head().value(), 0u);
  expect_clean_stop(*reader, socket);
}

TEST_F(SystemdNotifyTest, DispatcherIsReadyOnceBoundAndResumedFromTheStore) {
  NotifySocket socket;
  const auto pub = loopback_endpoint();
  auto dispatcher = start("services/dispatcher/even-dispatcher",
                          {"--dispatcher-pull-endpoint", loopback_endpoint(), "--dispatcher-pub-endpoint", pub}, &socket);
  auto ready = wait_ready(socket, 20s);
  ASSERT_TRUE(ready) << socket.seen_text() << dispatcher->log();
  EXPECT_NE(ready->find("STATUS=publishing on " + pub + " from global seq 1"), std::string::npos) << *ready;
  EXPECT_TRUE(dispatcher->wait_for_log("pulling committed events", 1s)) << "READY=1 came after the resume";
  EXPECT_TRUE(socket.wait_for("events/s", 10s)) << socket.seen_text();
  expect_clean_stop(*dispatcher, socket);
}

TEST_F(SystemdNotifyTest, ServerIsReadyWhenEveryServiceIsAndStopsOnce) {
  NotifySocket socket;
  const auto writer_ep = loopback_endpoint(), reader_ep = loopback_endpoint(), pub = loopback_endpoint();
  auto server = start("services/server/even-server",
                      {"--writer-endpoint", writer_ep, "--reader-endpoint", reader_ep, "--dispatcher-pub-endpoint", pub},
                      &socket, 2s);
  auto ready = wait_ready(socket, 20s);
  ASSERT_TRUE(ready) << socket.seen_text() << server->log();
  for (const char* part : {"writer: master", "reader: serving reads", "dispatcher: publishing"})
    EXPECT_NE(ready->find(part), std::string::npos) << *ready;
  client::Client client(client_options(writer_ep, reader_ep, 5s));
  EXPECT_NO_THROW(client.append("notify-1", ExpectedVersion::any(), one_event()));
  EXPECT_EQ(client.head().value(), 1u);
  // Every service's loop goes round: the process pings (one due every 500 ms).
  EXPECT_GE(count_containing(socket.collect(2s), "WATCHDOG=1"), 2) << socket.seen_text();
  expect_clean_stop(*server, socket);
  EXPECT_EQ(count_containing(socket.seen(), "STOPPING=1"), 1) << socket.seen_text();
}

TEST_F(SystemdNotifyTest, WatchdogPingsStopWhileTheWriterIsFrozen) {
  NotifySocket socket;
  auto writer = start("services/writer/even-writer", {"--writer-endpoint", loopback_endpoint()}, &socket, 1s);
  ASSERT_TRUE(wait_ready(socket, 20s)) << socket.seen_text() << writer->log();
  EXPECT_GE(count_containing(socket.collect(1500ms), "WATCHDOG=1"), 3) << socket.seen_text();
  writer->signal(SIGSTOP);
  socket.collect(100ms);
  EXPECT_EQ(count_containing(socket.collect(1500ms), "WATCHDOG=1"), 0) << socket.seen_text();
  writer->signal(SIGCONT);
  EXPECT_GE(count_containing(socket.collect(1500ms), "WATCHDOG=1"), 3) << socket.seen_text();
  expect_clean_stop(*writer, socket);
}

// The projector's main loop pings only while every projection's runner goes round its own loop:
// a runner stuck in a statement (here: waiting for a row lock the test holds) stops the pings,
// although the projector's main loop itself keeps turning.
TEST_F(SystemdNotifyTest, ProjectorWatchdogStopsWhileAProjectionIsStuck) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  cluster.start_reader();
  TestStore query(false);
  const std::string config = log_path("projections.json");
  std::ofstream(config) << R"json({"projections": [{
      "name": "ticks", "categories": ["tick"], "version": 1,
      "setup": ["CREATE TABLE IF NOT EXISTS ticks (stream VARCHAR(100) PRIMARY KEY, n BIGINT NOT NULL)"],
      "reset": ["DROP TABLE IF EXISTS ticks"],
      "events": {"Ticked": "INSERT INTO ticks VALUES (:stream, 1) ON DUPLICATE KEY UPDATE n = n + 1"} }]})json";
  NotifySocket socket;
  auto projector = start("services/projector/even-projector",
                         {"--projections", config, "--query-db-name", query.db().name, "--reader-endpoint",
                          cluster.reader_endpoint, "--dispatcher-pub-endpoint", cluster.pub_endpoint},
                         &socket, 2s, &cluster.store().db());
  auto ready = wait_ready(socket, 30s);
  ASSERT_TRUE(ready) << socket.seen_text() << projector->log();
  // Ready once the runner left `starting`: running, or still resetting its new read model.
  EXPECT_NE(ready->find("STATUS=1 projection(s): 1 "), std::string::npos) << *ready;
  EXPECT_EQ(ready->find("starting"), std::string::npos) << *ready;

  client::Client client(cluster.client_options());
  client.append("tick-1", ExpectedVersion::any(), one_event("Ticked"));
  auto ticks = [&] { return query.scalar("SELECT COALESCE(MAX(n), 0) FROM ticks"); };
  for (int i = 0; i < 200 && ticks() < 1; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(ticks(), 1) << projector->log();
  EXPECT_GE(count_containing(socket.collect(1500ms), "WATCHDOG=1"), 2) << socket.seen_text();

  // Hold the read model's row: the next batch waits for the lock.
  auto blocker = query.connect();
  blocker->begin();
  blocker->query_int("SELECT n FROM ticks WHERE stream = 'tick-1' FOR UPDATE");
  client.append("tick-1", ExpectedVersion::any(), one_event("Ticked"));
  std::this_thread::sleep_for(1500ms);  // the runner is stuck for longer than the 1 s limit now
  socket.collect(100ms);
  auto stuck = socket.collect(2500ms);
  EXPECT_EQ(count_containing(stuck, "WATCHDOG=1"), 0) << socket.seen_text();
  EXPECT_EQ(ticks(), 1) << "the runner waits for the row lock";
  EXPECT_TRUE(projector->running());
  blocker->rollback();
  for (int i = 0; i < 200 && ticks() < 2; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(ticks(), 2);
  EXPECT_GE(count_containing(socket.collect(2s), "WATCHDOG=1"), 2) << socket.seen_text();
  expect_clean_stop(*projector, socket);
}

TEST_F(SystemdNotifyTest, WithoutNotifySocketNothingChanges) {
  const auto endpoint = loopback_endpoint();
  auto writer = start("services/writer/even-writer", {"--writer-endpoint", endpoint}, nullptr);
  ASSERT_TRUE(writer->wait_for_log("serving appends", 20s)) << writer->log();
  client::Client client(client_options(endpoint, "", 3s));
  EXPECT_NO_THROW(client.append("notify-1", ExpectedVersion::any(), one_event()));
  writer->signal(SIGTERM);
  EXPECT_EQ(writer->wait(10s), 0);
  // Less the --insecure warning of its first line (plain TCP is how tests/support runs services).
  auto log = writer->log();
  if (log.find("--insecure: plain TCP") != std::string::npos) log.erase(0, log.find('\n') + 1);
  for (const char* word : {"error", "warn", "critical", "notify", "systemd"})
    EXPECT_EQ(log.find(word), std::string::npos) << word << " in:\n" << log;
}

}  // namespace
}  // namespace even::test
