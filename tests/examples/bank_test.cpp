// The bank example end to end against real even-writer, even-dispatcher and even-reader
// processes: transfers and their compensation, the resumable transfer process, the read model
// (catch-up and live), correlation ids from command to read model, and the `bank` command line.
#include <gtest/gtest.h>

#include <thread>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "bank/bank.h"
#include "bank/read_model.h"
#include "dispatcher/cluster.h"

namespace {

using namespace even;
using namespace even::client;
using namespace std::chrono_literals;

class BankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_writer();
    cluster_.start_dispatcher();
    cluster_.start_reader();
    client_ = std::make_unique<Client>(cluster_.client_options());
    bank_ = std::make_unique<bank::Bank>(*client_, 5);
    query_db_ = cluster_.store().db();
    query_db_.name += "_bank";
  }
  void TearDown() override {
    try {
      auto c = store::Connection::open(query_db_, false);
      c->execute("DROP DATABASE IF EXISTS " + store::identifier(query_db_.name));
    } catch (...) {
    }
  }
  void open(const std::string& id, std::int64_t amount) {
    ASSERT_TRUE(bank_->open(id, "owner " + id).accepted);
    if (amount) {
      ASSERT_TRUE(bank_->deposit(id, amount).accepted);
    }
  }
  std::int64_t balance(const std::string& id) { return bank_->accounts().replay(id).state.balance; }

  test::Cluster cluster_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<bank::Bank> bank_;
  config::DbOptions query_db_;
};

TEST_F(BankTest, TransferCompletes) {
  open("alice", 100);
  open("bob", 0);
  auto out = bank_->transfer("t1", "alice", "bob", 60);
  EXPECT_EQ(out.status, bank::TransferStatus::completed);
  EXPECT_EQ(balance("alice"), 40);
  EXPECT_EQ(balance("bob"), 60);
  auto events = client_->read_stream("transfer-t1", StreamSeq(1)).to_vector();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "TransferStarted");
  EXPECT_EQ(events[1].type, "TransferDebited");
  EXPECT_EQ(events[2].type, "TransferCompleted");
}

TEST_F(BankTest, TransferWithInsufficientFundsFailsWithoutMovingMoney) {
  open("alice", 10);
  open("bob", 0);
  auto out = bank_->transfer("t2", "alice", "bob", 60);
  EXPECT_EQ(out.status, bank::TransferStatus::failed);
  EXPECT_FALSE(out.refunded);
  ASSERT_FALSE(out.reasons.empty());
  EXPECT_NE(out.reasons[0].find("insufficient funds"), std::string::npos);
  EXPECT_EQ(balance("alice"), 10);
  EXPECT_EQ(balance("bob"), 0);
  auto bad = bank_->transfer("t3", "alice", "alice", 1);
  EXPECT_EQ(bad.status, bank::TransferStatus::none);
  EXPECT_EQ(bad.reasons, std::vector<std::string>{"source and target are the same account"});
}

// The credit is rejected (the target does not exist): compensation refunds the source.
TEST_F(BankTest, FailedCreditIsCompensatedByARefund) {
  open("alice", 100);
  auto out = bank_->transfer("t4", "alice", "nobody", 30);
  EXPECT_EQ(out.status, bank::TransferStatus::failed);
  EXPECT_TRUE(out.refunded);
  EXPECT_EQ(balance("alice"), 100);
  auto events = client_->read_stream("account-alice", StreamSeq(1)).to_vector();
  ASSERT_EQ(events.size(), 4u);  // opened, deposited, withdrawn 30, deposited 30 (refund)
  EXPECT_EQ(events[2].type, "Withdrawn");
  EXPECT_EQ(events[3].type, "Deposited");
  EXPECT_NE(events[3].payload.find("t4:refund"), std::string::npos);
}

// The process is driven by the transfer's last event; running it again (a crash and restart, or
// two runners at once) repeats no step, since every command it sends has an id derived from the
// event it reacts to.
TEST_F(BankTest, TransferProcessResumesAndRepeatsNoStep) {
  open("alice", 100);
  open("bob", 0);
  ASSERT_TRUE(bank_->transfers().handle("t5", bank::StartTransfer{"alice", "bob", 25}).accepted);
  // "Crash" after the debit: withdraw as the process would, without recording it.
  auto started = client_->read_stream("transfer-t5", StreamSeq(1)).to_vector().at(0);
  ASSERT_TRUE(bank_->accounts().handle("alice", bank::Withdraw{25, "t5"}, CommandContext::caused_by(started, "debit")).accepted);
  // Two runners resume it at once, then a third one later.
  bank::Bank other(*client_, 5);
  std::thread a([&] { bank_->process().resume("t5"); });
  std::thread b([&] { other.process().resume("t5"); });
  a.join();
  b.join();
  auto out = bank_->process().resume("t5");
  EXPECT_EQ(out.status, bank::TransferStatus::completed);
  EXPECT_EQ(balance("alice"), 75);
  EXPECT_EQ(balance("bob"), 25);
  EXPECT_EQ(client_->stream_version("account-alice")->value(), 3);
  EXPECT_EQ(client_->stream_version("account-bob")->value(), 2) << "opened, one credit";
  EXPECT_EQ(client_->stream_version("transfer-t5")->value(), 3);
}

// One correlation id from the command that starts a transfer to every event it causes (in three
// streams) and into the read model's rows.
TEST_F(BankTest, CorrelationIdsEndToEnd) {
  open("alice", 100);
  open("bob", 0);
  CommandContext ctx;
  ctx.correlation_id = "checkout-4711";
  ASSERT_EQ(bank_->transfer("t6", "alice", "bob", 10, ctx).status, bank::TransferStatus::completed);
  std::vector<RecordedEvent> caused;
  for (const auto* s : {"transfer-t6"})
    for (auto& e : client_->read_stream(s, StreamSeq(1)).to_vector()) caused.push_back(e);
  caused.push_back(client_->read_stream("account-alice", kStreamEnd, Direction::backward, 1).to_vector().at(0));
  caused.push_back(client_->read_stream("account-bob", kStreamEnd, Direction::backward, 1).to_vector().at(0));
  ASSERT_EQ(caused.size(), 5u);
  for (const auto& e : caused)
    EXPECT_EQ(EventMetadata::parse(e.metadata).correlation_id, "checkout-4711") << e.stream << " " << e.type;
  // Causation: the debit was caused by TransferStarted, the credit by TransferDebited.
  EXPECT_EQ(EventMetadata::parse(caused[3].metadata).causation_id, derive_id(caused[0].id, "debit").to_string());
  EXPECT_EQ(EventMetadata::parse(caused[4].metadata).causation_id, derive_id(caused[1].id, "credit").to_string());
  EXPECT_EQ(EventMetadata::parse(caused[0].metadata).causation_id, ctx.command_id.to_string());

  bank::BankReadModel::catch_up(*client_, query_db_);
  bank::BankReadModel model(query_db_);
  EXPECT_EQ(model.account("alice")->last_correlation_id, "checkout-4711");
  EXPECT_EQ(model.account("bob")->last_correlation_id, "checkout-4711");
  EXPECT_EQ(model.transfer("t6")->correlation_id, "checkout-4711");
  EXPECT_EQ(model.transfer("t6")->status, "completed");
}

TEST_F(BankTest, ReadModelCatchUpResumesFromItsCheckpointAndRebuilds) {
  open("a", 50);
  auto p1 = bank::BankReadModel::catch_up(*client_, query_db_);
  bank::BankReadModel model(query_db_);
  EXPECT_EQ(model.account("a")->balance, 50);
  ASSERT_TRUE(bank_->withdraw("a", 20).accepted);
  open("b", 5);
  auto p2 = bank::BankReadModel::catch_up(*client_, query_db_);
  EXPECT_GT(p2, p1);
  EXPECT_EQ(model.account("a")->balance, 30);
  EXPECT_EQ(model.account("b")->balance, 5);
  EXPECT_EQ(bank::BankReadModel::catch_up(*client_, query_db_), p2) << "nothing new: nothing applied twice";
  EXPECT_EQ(model.account("a")->balance, 30);
  // The SQL-config projection beside the C++ one.
  auto act = model.activity("a");
  ASSERT_TRUE(act);
  EXPECT_EQ(act->deposits, 1);
  EXPECT_EQ(act->withdrawals, 1);
  EXPECT_EQ(act->deposited - act->withdrawn, 30);
  EXPECT_EQ(model.checkpoint(bank::kActivityProjection), model.checkpoint(bank::kBankProjection));
  {
    bank::BankProjector rebuild(*client_, query_db_, /*rebuild=*/true);
    ASSERT_TRUE(rebuild.wait_for(client_->head(), 30s));
    // The checkpoint table may still show the old position until the reset ran: wait, with the
    // rebuild running, until the rebuilt read model is complete again.
    auto done = [&] {
      auto acc = model.account("a");
      auto act = model.activity("a");
      return acc && acc->balance == 30 && model.total_balance() == 35 && act && act->deposits == 1;
    };
    for (int i = 0; i < 300 && !done(); ++i) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(model.account("a"));
  EXPECT_EQ(model.account("a")->balance, 30);
  EXPECT_EQ(model.total_balance(), 35);
  auto rebuilt = model.activity("a");
  ASSERT_TRUE(rebuilt);
  EXPECT_EQ(rebuilt->deposits, 1);
}

// The simulation with the projections running live (subscriptions through the dispatcher): the read
// model's balances equal those computed from the accepted commands.
TEST_F(BankTest, SimulationAndLiveReadModelAgree) {
  bank::BankProjector live(*client_, query_db_);
  bank::SimulationOptions so;
  so.commands = 400;
  so.accounts = 8;
  so.clients = 8;
  so.prefix = "sim";
  auto r = bank::simulate(*client_, so);
  EXPECT_EQ(r.commands, 400u + 16u);
  EXPECT_GT(r.rejected, 0u);
  EXPECT_GT(r.transfers_completed, 0u);
  ASSERT_TRUE(live.wait_for(client_->head(), 30s));
  bank::BankReadModel model(query_db_);
  std::int64_t total = 0;
  for (const auto& [id, expected] : r.expected_balances) {
    auto row = model.account(id);
    ASSERT_TRUE(row) << id;
    EXPECT_EQ(row->balance, expected) << id;
    EXPECT_EQ(bank_->accounts().load(id).state.balance, expected) << id;
    EXPECT_GE(row->balance, 0);
    total += expected;
  }
  EXPECT_EQ(model.total_balance(), total);
  std::int64_t transfers = 0;
  for (auto& [status, n] : model.transfer_counts()) transfers += n;
  EXPECT_EQ(static_cast<std::size_t>(transfers), r.transfers_completed + r.transfers_failed);
}

// The command line, as a user runs it.
class BankCli : public BankTest {
 protected:
  std::pair<int, std::string> bank(const std::string& args) {
    auto o = cluster_.client_options();
    const auto& db = cluster_.store().db();
    std::string cmd = test::bin("examples/bank/bank") + " --writer-endpoint " + o.writer_endpoint +
                      " --reader-endpoint " + o.reader_endpoint + " --dispatcher-pub-endpoint " + o.feed_endpoint +
                      " --db-url " + db.url + " --db-user " + db.user + " --db-name " + db.name + " --insecure " + args + " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
    int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }
};

TEST_F(BankCli, OpenDepositWithdrawTransferBalance) {
  EXPECT_EQ(bank("open acc-1 Ann").first, 0);
  EXPECT_EQ(bank("open acc-2 Bob").first, 0);
  EXPECT_EQ(bank("deposit acc-1 100").first, 0);
  auto [rc, out] = bank("withdraw acc-1 150");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("insufficient funds: balance 100, requested 150"), std::string::npos) << out;
  EXPECT_EQ(bank("--command-id w-1 withdraw acc-1 30").first, 0);
  auto again = bank("--command-id w-1 withdraw acc-1 30");
  EXPECT_EQ(again.first, 0);
  EXPECT_NE(again.second.find("already handled"), std::string::npos) << again.second;
  EXPECT_EQ(bank("transfer acc-1 acc-2 20").first, 0);
  auto bal = bank("balance acc-1");
  EXPECT_EQ(bal.first, 0);
  EXPECT_NE(bal.second.find("balance 50"), std::string::npos) << bal.second;
  EXPECT_NE(bank("balance acc-2").second.find("balance 20"), std::string::npos);
  auto sim = bank("simulate 200 --accounts 5 --clients 4");
  EXPECT_EQ(sim.first, 0) << sim.second;
  EXPECT_NE(sim.second.find("every balance matches"), std::string::npos) << sim.second;
}

}  // namespace
