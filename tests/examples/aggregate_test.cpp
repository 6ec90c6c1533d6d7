// AggregateStore against real even-writer and even-reader processes (and the bank's Account):
// conflict retries under 32 concurrent clients, rejections, idempotent commands, snapshots,
// upcasting, correlation ids.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "bank/account.h"
#include "bank/bank.h"
#include "dispatcher/cluster.h"

namespace {

using namespace even;
using namespace even::client;
using namespace std::chrono_literals;
using bank::Account;

class AggregateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_writer();
    cluster_.start_reader();
    client_ = std::make_unique<Client>(cluster_.client_options());
  }
  AggregateOptions options(std::int64_t snapshot_every = 0, std::size_t cache = 10000) {
    AggregateOptions o;
    o.snapshot_every = snapshot_every;
    o.cache_size = cache;
    o.max_attempts = 200;
    return o;
  }
  std::int64_t stream_version(const std::string& stream) {
    return client_->stream_version(stream).value_or(StreamSeq(0)).value();
  }

  test::Cluster cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(AggregateTest, AcceptsAndRejectsWithReasons) {
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options());
  auto r = accounts.handle("a1", bank::Deposit{10, ""});
  EXPECT_FALSE(r.accepted);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0], "no such account");
  EXPECT_EQ(stream_version("account-a1"), 0) << "a rejection writes nothing";

  r = accounts.handle("a1", bank::OpenAccount{"Ann"});
  ASSERT_TRUE(r.accepted);
  EXPECT_EQ(r.version, StreamSeq(1));
  EXPECT_EQ(r.events, 1u);
  EXPECT_GT(r.last_global_seq.value(), 0u);
  EXPECT_TRUE(accounts.handle("a1", bank::Deposit{100, ""}).accepted);

  r = accounts.handle("a1", bank::Withdraw{101, ""});
  EXPECT_FALSE(r.accepted);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(r.reasons[0], "insufficient funds: balance 100, requested 101");
  EXPECT_EQ(r.version, StreamSeq(2));

  r = accounts.handle("a1", bank::OpenAccount{""});
  EXPECT_EQ(r.reasons.size(), 2u) << "every broken rule is reported";
  EXPECT_EQ(stream_version("account-a1"), 2);
  EXPECT_EQ(accounts.replay("a1").state.balance, 100);
}

// 32 clients, each with its own Client and AggregateStore (as 32 application processes would),
// withdraw from one account at once: every conflict is retried against the newer state, the
// account is never overdrawn and the final balance is the deposits minus the accepted withdrawals.
TEST_F(AggregateTest, ConcurrentWithdrawalsNeverOverdraw) {
  {
    AggregateStore<Account> setup(*client_, bank::account_event_types(), options());
    ASSERT_TRUE(setup.handle("shared", bank::OpenAccount{"Many"}).accepted);
    ASSERT_TRUE(setup.handle("shared", bank::Deposit{1000, ""}).accepted);
  }
  constexpr int kClients = 32, kCommands = 12;
  std::atomic<std::int64_t> withdrawn{0}, deposited{1000};
  std::atomic<int> accepted{0}, rejected{0}, conflicts{0}, retried{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client client(cluster_.client_options());
      AggregateStore<Account> accounts(client, bank::account_event_types(), options(c % 2 ? 5 : 0));
      std::mt19937 rng(static_cast<unsigned>(c));
      for (int n = 0; n < kCommands; ++n) {
        const std::int64_t amount = 1 + static_cast<std::int64_t>(rng() % 30);
        const bool deposit = n % 6 == 5;
        try {
          auto r = deposit ? accounts.handle("shared", bank::Deposit{amount, ""})
                           : accounts.handle("shared", bank::Withdraw{amount, ""});
          if (r.attempts > 1) ++retried;
          if (r.accepted) {
            ++accepted;
            (deposit ? deposited : withdrawn) += amount;
          } else {
            ++rejected;
            EXPECT_NE(r.reasons.at(0).find("insufficient funds"), std::string::npos);
          }
        } catch (const ConcurrencyConflict&) {
          ++conflicts;  // ran out of retries: not applied, counted apart
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  AggregateStore<Account> check(*client_, bank::account_event_types(), options());
  auto final_state = check.replay("shared");
  EXPECT_EQ(final_state.state.balance, deposited.load() - withdrawn.load());
  EXPECT_GE(final_state.state.balance, 0);
  EXPECT_EQ(final_state.info.version.value(), 2 + accepted.load()) << "one event per accepted command";
  EXPECT_GT(rejected.load(), 0) << "the clients asked for more than the account holds";
  EXPECT_GT(retried.load(), 0) << "concurrent clients must have conflicted";
  EXPECT_EQ(conflicts.load(), 0);
  // Never overdrawn at any point: replay the stream and check every intermediate balance.
  std::int64_t balance = 0;
  for (const auto& e : client_->read_stream("account-shared", StreamSeq(1))) {
    auto ev = bank::account_event_types().decode(e);
    if (auto* d = std::get_if<bank::Deposited>(&ev)) balance += d->amount;
    if (auto* w = std::get_if<bank::Withdrawn>(&ev)) balance -= w->amount;
    ASSERT_GE(balance, 0) << "overdrawn at version " << e.stream_seq.value();
  }
}

TEST_F(AggregateTest, RetriedCommandWritesItsEventsOnce) {
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options());
  ASSERT_TRUE(accounts.handle("r1", bank::OpenAccount{"Ann"}).accepted);
  ASSERT_TRUE(accounts.handle("r1", bank::Deposit{100, ""}).accepted);
  CommandContext ctx;  // one command id, sent three times
  auto first = accounts.handle("r1", bank::Withdraw{80, ""}, ctx);
  ASSERT_TRUE(first.accepted);
  EXPECT_FALSE(first.already_handled);
  // Again through the same store (cached state), and through a fresh one (loads the stream):
  // a naive retry would be rejected for insufficient funds, or withdraw twice.
  auto again = accounts.handle("r1", bank::Withdraw{80, ""}, ctx);
  EXPECT_TRUE(again.accepted);
  EXPECT_TRUE(again.already_handled);
  AggregateStore<Account> other(*client_, bank::account_event_types(), options(0, 0));
  auto third = other.handle("r1", bank::Withdraw{80, ""}, ctx);
  EXPECT_TRUE(third.accepted);
  EXPECT_TRUE(third.already_handled);
  EXPECT_EQ(stream_version("account-r1"), 3);
  EXPECT_EQ(other.replay("r1").state.balance, 20);

  // A retry after other commands changed the aggregate, whose state is stale in the cache: the
  // writer reports the conflict, the store catches up and finds the command's events.
  AggregateStore<Account> stale(*client_, bank::account_event_types(), options());
  CommandContext ctx2;
  ASSERT_TRUE(stale.handle("r1", bank::Deposit{5, ""}, ctx2).accepted);
  ASSERT_TRUE(accounts.handle("r1", bank::Deposit{7, ""}).accepted);
  auto late = stale.handle("r1", bank::Deposit{5, ""}, ctx2);
  EXPECT_TRUE(late.already_handled);
  EXPECT_EQ(other.replay("r1").state.balance, 32);
}

TEST_F(AggregateTest, SnapshotsGiveTheSameStateAsFullReplay) {
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options(10));
  ASSERT_TRUE(accounts.handle("s1", bank::OpenAccount{"Snap"}).accepted);
  std::int64_t expected = 0;
  for (int i = 1; i <= 56; ++i) {
    auto r = i % 4 == 0 ? accounts.handle("s1", bank::Withdraw{i, ""}) : accounts.handle("s1", bank::Deposit{i, ""});
    ASSERT_TRUE(r.accepted) << i;
    expected += i % 4 == 0 ? -i : i;
  }
  // 57 events: snapshots at versions 10, 20, ..., 50.
  EXPECT_EQ(stream_version("snapshot$account-s1"), 5);
  auto snap = accounts.load("s1");
  auto full = accounts.replay("s1");
  EXPECT_TRUE(snap.info.from_snapshot);
  EXPECT_EQ(snap.info.replayed, 7u) << "the snapshot at 50 plus events 51..57";
  EXPECT_FALSE(full.info.from_snapshot);
  EXPECT_EQ(full.info.replayed, 57u);
  EXPECT_EQ(Json(snap.state), Json(full.state));
  EXPECT_EQ(snap.state.balance, expected);
  EXPECT_EQ(snap.info.version, full.info.version);
  EXPECT_EQ(snap.info.recent_ids, full.info.recent_ids);

  // A store without a cache works from the snapshot too, and a command retried after the
  // snapshot was taken is still recognised (the snapshot keeps the recent event ids).
  AggregateStore<Account> cold(*client_, bank::account_event_types(), options(10, 0));
  CommandContext ctx;
  ASSERT_TRUE(cold.handle("s1", bank::Deposit{1000, ""}, ctx).accepted);  // version 58
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cold.handle("s1", bank::Deposit{1, ""}).accepted);  // 61: snapshot at 60
  EXPECT_EQ(stream_version("snapshot$account-s1"), 6);
  auto retry = cold.handle("s1", bank::Deposit{1000, ""}, ctx);
  EXPECT_TRUE(retry.already_handled);
  EXPECT_EQ(cold.load("s1").state.balance, expected + 1003);
  EXPECT_EQ(cold.replay("s1").state.balance, expected + 1003);
}

// A snapshot must not bring back what a delete or a truncate hides: it is discarded when the
// stream is not found, or when the first event after it is hidden.
TEST_F(AggregateTest, SnapshotOfHiddenEventsIsDiscarded) {
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options(4, 0));  // no cache
  ASSERT_TRUE(accounts.handle("d1", bank::OpenAccount{"Gone"}).accepted);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(accounts.handle("d1", bank::Deposit{10, ""}).accepted);  // snapshot at 4
  ASSERT_TRUE(accounts.load("d1").info.from_snapshot);
  client_->delete_stream("account-d1");
  auto deleted = accounts.load("d1");
  EXPECT_FALSE(deleted.info.from_snapshot);
  EXPECT_EQ(deleted.info.version, StreamSeq(0));
  EXPECT_EQ(Json(deleted.state), Json(Account::State{}));

  ASSERT_TRUE(accounts.handle("t1", bank::OpenAccount{"Cut"}).accepted);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(accounts.handle("t1", bank::Deposit{10, ""}).accepted);  // 6; snapshot at 4
  client_->truncate_stream("account-t1", StreamSeq(5));  // below the snapshot's next event: kept
  EXPECT_TRUE(accounts.load("t1").info.from_snapshot);
  client_->truncate_stream("account-t1", StreamSeq(6));  // event 5 hidden: a gap after the snapshot
  auto cut = accounts.load("t1");
  EXPECT_FALSE(cut.info.from_snapshot);
  EXPECT_EQ(cut.info.version, StreamSeq(6));
  EXPECT_EQ(Json(cut.state), Json(accounts.replay("t1").state));
}

TEST_F(AggregateTest, SnapshotOfAnOlderStateVersionIsIgnored) {
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options(2));
  ASSERT_TRUE(accounts.handle("v1", bank::OpenAccount{"V"}).accepted);
  ASSERT_TRUE(accounts.handle("v1", bank::Deposit{3, ""}).accepted);  // snapshot at 2
  // A snapshot written by an older State layout: a different state_version.
  NewEvent old;
  old.type = "Snapshot";
  old.payload = R"({"version":2,"state_version":0,"state":{"garbage":true}})";
  client_->append("snapshot$account-v1", ExpectedVersion::any(), {old});
  auto l = accounts.load("v1");
  EXPECT_FALSE(l.info.from_snapshot);
  EXPECT_EQ(l.state.balance, 3);
}

// An AccountOpened written before the type changed (version 1: {"name": ...}) still loads.
TEST_F(AggregateTest, UpcastsAnOldEventVersion) {
  NewEvent old;
  old.type = "AccountOpened";
  old.payload = R"({"name":"Ann from 2019"})";
  old.metadata = R"({"schema_version":1})";
  client_->append("account-legacy", ExpectedVersion::no_stream(), {old});
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options());
  auto r = accounts.handle("legacy", bank::Deposit{5, ""});
  ASSERT_TRUE(r.accepted) << (r.reasons.empty() ? "" : r.reasons[0]);
  auto l = accounts.replay("legacy");
  EXPECT_EQ(l.state.owner, "Ann from 2019");
  EXPECT_EQ(l.state.currency, "EUR");
  EXPECT_EQ(l.state.balance, 5);
  // A newer event version than the code knows is an error, not silently misread.
  NewEvent future;
  future.type = "Deposited";
  future.payload = R"({"amount":1,"reference":""})";
  future.metadata = R"({"schema_version":9})";
  client_->append("account-legacy", ExpectedVersion::any(), {future});
  EXPECT_THROW(accounts.replay("legacy"), EventDecodeError);
}

TEST_F(AggregateTest, EventsCarryCorrelationAndCausation) {
  AggregateStore<Account> accounts(*client_, bank::account_event_types(), options());
  CommandContext open;
  open.correlation_id = "signup-flow-9";
  ASSERT_TRUE(accounts.handle("c1", bank::OpenAccount{"Cor"}, open).accepted);
  CommandContext plain;  // starts its own chain
  ASSERT_TRUE(accounts.handle("c1", bank::Deposit{1, ""}, plain).accepted);
  auto events = client_->read_stream("account-c1", StreamSeq(1)).to_vector();
  ASSERT_EQ(events.size(), 2u);
  auto md0 = EventMetadata::parse(events[0].metadata);
  EXPECT_EQ(md0.correlation_id, "signup-flow-9");
  EXPECT_EQ(md0.causation_id, open.command_id.to_string());
  EXPECT_EQ(events[0].id, derive_id(open.command_id, "0"));
  auto md1 = EventMetadata::parse(events[1].metadata);
  EXPECT_EQ(md1.correlation_id, plain.command_id.to_string());
  EXPECT_EQ(md1.causation_id, plain.command_id.to_string());
  // A command caused by an event inherits its correlation and records the event as its cause.
  auto caused = CommandContext::caused_by(events[0], "welcome-bonus");
  ASSERT_TRUE(accounts.handle("c1", bank::Deposit{10, "bonus"}, caused).accepted);
  auto bonus = client_->read_stream("account-c1", StreamSeq(3)).to_vector();
  ASSERT_EQ(bonus.size(), 1u);
  EXPECT_EQ(EventMetadata::parse(bonus[0].metadata).correlation_id, "signup-flow-9");
  EXPECT_EQ(EventMetadata::parse(bonus[0].metadata).causation_id, derive_id(events[0].id, "welcome-bonus").to_string());
}

}  // namespace
