// even-server: writer, dispatcher and reader in one process serve appends, reads, live
// subscriptions and the bank example exactly as the separate processes do; SIGTERM stops it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "bank/bank.h"
#include "bank/read_model.h"
#include "even/client/client.h"
#include "support/process.h"
#include "support/test_env.h"
#include "support/test_client.h"

namespace {

using namespace even;
using namespace even::client;
using namespace std::chrono_literals;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = test::loopback_endpoint();
    reader_ = test::loopback_endpoint();
    feed_ = test::loopback_endpoint();
    start();
  }
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {test::bin("services/server/even-server"), "--writer-endpoint", writer_,
                                     "--reader-endpoint", reader_, "--dispatcher-pub-endpoint", feed_,
                                     "--dispatcher.heartbeat-ms", "50"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (auto& f : test::db_flags(store_.db())) argv.push_back(f);
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    server_.reset();
    server_ = std::make_unique<test::Process>(
        argv, "/tmp/even-ServerTest." + std::string(info->name()) + "-" + std::to_string(::getpid()) + ".log");
    ASSERT_TRUE(server_->wait_for_log("serving appends", 20s)) << server_->log();
  }
  ClientOptions options() const {
    return test::client_options(writer_, reader_, feed_, 20s);
  }

  test::TestStore store_;
  std::string writer_, reader_, feed_;
  std::unique_ptr<test::Process> server_;
};

TEST_F(ServerTest, AppendReadAndSubscribeThroughOneProcess) {
  Client client(options());
  std::atomic<int> live{0};
  std::atomic<std::uint64_t> last{0};
  auto sub = client.subscribe(GlobalSeq(1), {}, [&](const RecordedEvent& e) {
    ++live;
    last = e.global_seq.value();
  });
  std::uint64_t head = 0;
  for (int i = 0; i < 50; ++i) {
    NewEvent e;
    e.type = "Pinged";
    e.payload = "{\"i\":" + std::to_string(i) + "}";
    auto r = client.append("ping-" + std::to_string(i % 5), ExpectedVersion::any(), {e});
    head = r.last_global_seq.value();
  }
  EXPECT_EQ(client.read_stream("ping-3", StreamSeq(1)).to_vector().size(), 10u);
  EXPECT_EQ(client.head().value(), head);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (last.load() < head && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(live.load(), 50);
  EXPECT_TRUE(sub->live()) << "events came over the in-process dispatcher's feed";
}

TEST_F(ServerTest, BankSimulationAgainstTheSingleApp) {
  Client client(options());
  auto query_db = store_.db();
  query_db.name += "_bank";
  {
    bank::BankProjector live(client, query_db);
    bank::SimulationOptions so;
    so.commands = 200;
    so.accounts = 5;
    so.clients = 4;
    so.prefix = "srv";
    auto r = bank::simulate(client, so);
    ASSERT_TRUE(live.wait_for(client.head(), 30s));
    bank::BankReadModel model(query_db);
    for (const auto& [id, expected] : r.expected_balances) EXPECT_EQ(model.account(id)->balance, expected) << id;
  }
  auto c = store::Connection::open(query_db, false);
  c->execute("DROP DATABASE IF EXISTS " + store::identifier(query_db.name));
}

TEST_F(ServerTest, StopsCleanlyOnSigtermAndKeepsWhatItAcknowledged) {
  std::uint64_t head = 0;
  {
    Client client(options());
    for (int i = 0; i < 20; ++i) {
      NewEvent e;
      e.type = "Kept";
      head = client.append("kept-1", ExpectedVersion::any(), {e}).last_global_seq.value();
    }
  }
  server_->signal(SIGTERM);
  EXPECT_EQ(server_->wait(10s), 0) << server_->log();
  start();
  Client client(options());
  EXPECT_EQ(client.head().value(), head);
  EXPECT_EQ(client.stream_version("kept-1")->value(), 20);
}

// With --projections, the SQL-config projections run in the same process.
TEST_F(ServerTest, HostsSqlConfigProjections) {
  server_->signal(SIGTERM);
  ASSERT_EQ(server_->wait(10s), 0);
  const std::string query = store_.db().name + "_q";
  start({"--projections", BANK_PROJECTIONS_FILE, "--query-db-name", query});
  Client client(options());
  for (int i = 1; i <= 5; ++i) {
    NewEvent e;
    e.type = "Deposited";
    e.payload = "{\"amount\":" + std::to_string(i) + ",\"reference\":\"\"}";
    client.append("account-p1", ExpectedVersion::any(), {e});
  }
  auto db = store_.db();
  db.name = query;
  std::int64_t deposited = 0;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      deposited = store::Connection::open(db)
                      ->query_int("SELECT deposited FROM account_activity WHERE account = 'account-p1'")
                      .value_or(0);
    } catch (const sql::SQLException&) {
    }
    if (deposited == 15) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(deposited, 15) << server_->log();
  server_->signal(SIGTERM);
  EXPECT_EQ(server_->wait(10s), 0) << server_->log();
  store::Connection::open(db, false)->execute("DROP DATABASE IF EXISTS " + store::identifier(query));
}

}  // namespace
