// even-reader on a primary and a semi-sync replica (issue 18): the reader's workers read from the
// replica, and a client's read after its append includes the append (read-your-writes): the
// client sends the append's global position with every read, and a reader whose replica has not
// applied it waits for it, or reads from the primary after --reader.replica-wait-ms.
//
// The replica is held behind by stopping its SQL thread: semi-sync (AFTER_SYNC) still
// acknowledges commits once the replica's relay log has them, so the append succeeds while the
// replica's tables do not have it yet.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "even/common/store/mysql.h"
#include "even/common/store/schema.h"
#include "reader_cluster.h"
#include "support/private_mariadb.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {
namespace {

client::NewEvent new_event() {
  client::NewEvent e;
  e.type = "Noted";
  e.payload = "{}";
  return e;
}

std::size_t count(const std::string& log, const std::string& what) {
  std::size_t n = 0;
  for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
  return n;
}

TEST(ReplicaRead, AReadAfterAnAppendIncludesItOnALaggingReplica) {
  ReplicatedStore stores;
  auto& [primary, replica, db] = stores;
  ReaderFlags flags;
  flags.extra = {"--reader.replica-wait-ms", "1500"};
  ReaderCluster cluster(flags, db);
  ASSERT_TRUE(cluster.reader().wait_for_log("reads from the replica " + replica.options().url, std::chrono::seconds(5)))
      << cluster.reader().log();

  auto rep = store::Connection::open(replica.options("even"));
  // No resends within a wait: each read below is one request (one wait, at most one fallback).
  auto options = cluster.client_options();
  options.resend_after = std::chrono::seconds(10);
  client::Client writer_client(options);
  client::Client stranger(cluster.client_options());  // has appended nothing: no position to demand

  // Caught up: the replica serves the read, with no wait and no fallback.
  auto first = writer_client.append("note-1", ExpectedVersion::any(), {new_event()});
  EXPECT_EQ(writer_client.stream_version("note-1"), StreamSeq(1));

  // Held behind: the append is acknowledged (semi-sync), the replica does not have it.
  rep->execute("STOP SLAVE SQL_THREAD");
  auto second = writer_client.append("note-1", ExpectedVersion::any(), {new_event()});
  ASSERT_GT(second.last_global_seq.value(), first.last_global_seq.value());
  EXPECT_EQ(stranger.stream_version("note-1"), StreamSeq(1)) << "the stranger's read was not served by the replica";
  // The writer's own client reads its append: from the primary, after the wait.
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(writer_client.stream_version("note-1"), StreamSeq(2));
  EXPECT_GE(std::chrono::steady_clock::now() - asked, std::chrono::milliseconds(1400));
  EXPECT_TRUE(cluster.reader().wait_for_log("reading from the primary", std::chrono::seconds(3)))
      << cluster.reader().log();

  // The replica catches up while the read waits: the replica serves it.
  auto third = writer_client.append("note-1", ExpectedVersion::any(), {new_event()});
  auto read = std::async(std::launch::async, [&] {
    std::vector<std::uint64_t> seqs;
    for (const auto& e : writer_client.read_stream("note-1", StreamSeq(1))) seqs.push_back(e.global_seq.value());
    return seqs;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rep->execute("START SLAVE SQL_THREAD");
  const auto seqs = read.get();
  ASSERT_EQ(seqs.size(), 3u);
  EXPECT_EQ(seqs.back(), third.last_global_seq.value());
  EXPECT_TRUE(cluster.reader().wait_for_log("waited for the replica", std::chrono::seconds(3)))
      << cluster.reader().log();
  EXPECT_EQ(count(cluster.reader().log(), "reading from the primary"), 1u) << cluster.reader().log();
}

// A subscription's catch-up reads up to a position the feed (the primary's dispatcher) vouches
// for; a reader on a lagging replica must not answer it without the events, or the subscription
// passes them for good. The subscriber has appended nothing: only the catch-up demands the
// position.
TEST(ReplicaRead, ASubscriptionCatchingUpThroughALaggingReplicaGetsEveryEvent) {
  ReplicatedStore stores;
  auto& [primary, replica, db] = stores;
  const std::string pull = loopback_endpoint(), pub = loopback_endpoint();
  ReaderFlags flags;
  flags.extra = {"--reader.replica-wait-ms", "300"};
  ReaderCluster cluster(flags, db, {"--dispatcher-pull-endpoint", pull});
  std::vector<std::string> d_args = {bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint", pull,
                                     "--dispatcher-pub-endpoint", pub, "--dispatcher.heartbeat-ms", "50"};
  for (auto& f : db_flags(db)) d_args.push_back(f);
  Process dispatcher(d_args, ::testing::TempDir() + "replica-read-dispatcher-" + std::to_string(::getpid()) + ".log");
  ASSERT_TRUE(dispatcher.wait_for_log("pulling committed events", std::chrono::seconds(20))) << dispatcher.log();
  ASSERT_TRUE(cluster.reader().wait_for_log("reads from the replica " + replica.options().url, std::chrono::seconds(5)))
      << cluster.reader().log();

  auto options = cluster.client_options();
  options.feed_endpoint = pub;
  // Subscribes from `from`; the handler records the events' global positions.
  struct Recorded {
    std::mutex mu;
    std::vector<std::uint64_t> seqs;
    std::vector<std::uint64_t> get() {
      std::lock_guard lock(mu);
      return seqs;
    }
  };
  auto subscribe = [](client::Client& c, Recorded& r) {
    return c.subscribe(GlobalSeq(1), {}, [&r](const client::RecordedEvent& e) {
      std::lock_guard lock(r.mu);
      r.seqs.push_back(e.global_seq.value());
    });
  };
  auto wait_position = [](client::CatchUpSubscription& s, std::uint64_t seq) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (s.position().value() < seq && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  // A witness, live before the appends: once it has them, the dispatcher has published them, so
  // the late subscriber below must read them as history.
  client::Client witness_client(options);
  Recorded witnessed;
  auto witness = subscribe(witness_client, witnessed);
  ASSERT_TRUE(witness_client.head() == GlobalSeq(0));

  auto rep = store::Connection::open(replica.options("even"));
  rep->execute("STOP SLAVE SQL_THREAD");
  std::vector<std::uint64_t> appended;
  for (int i = 0; i < 5; ++i)
    appended.push_back(cluster.client().append("note-" + std::to_string(i), ExpectedVersion::any(), {new_event()})
                           .last_global_seq.value());
  wait_position(*witness, appended.back());
  ASSERT_EQ(witnessed.get(), appended);

  client::Client late_client(options);
  Recorded got;
  auto late = subscribe(late_client, got);
  wait_position(*late, appended.back());
  // The replica still lags: the late subscriber's history came from the primary.
  EXPECT_EQ(got.get(), appended) << "position " << late->position().value();
  EXPECT_EQ(late->stats().from_history, appended.size());
  EXPECT_EQ(rep->query_int("SELECT COUNT(*) FROM events").value_or(-1), 0) << "the replica did not lag";
  late->stop();
  witness->stop();
  rep->execute("START SLAVE SQL_THREAD");
}

// Reads go to a replica only while it applies what it receives: a read-only server whose SQL
// thread stopped falls further behind with every commit (Connection::open_replica).
TEST(ReplicaRead, OnlyAReplicaThatAppliesIsReadFrom) {
  ReplicatedStore stores;
  auto& [primary, replica, db] = stores;
  auto rep = store::Connection::open(replica.options("even"));
  std::string url, passed_over;
  EXPECT_NE(store::Connection::open_replica(db, 0, &url, &passed_over), nullptr);
  EXPECT_EQ(url, replica.options().url);
  EXPECT_EQ(passed_over, "");
  rep->execute("STOP SLAVE SQL_THREAD");
  EXPECT_EQ(store::Connection::open_replica(db, 0, &url, &passed_over), nullptr);
  EXPECT_NE(passed_over.find("Slave_SQL_Running=No"), std::string::npos) << passed_over;
  rep->execute("START SLAVE SQL_THREAD");
  EXPECT_NE(store::Connection::open_replica(db, 1, &url, &passed_over), nullptr) << passed_over;
}

}  // namespace
}  // namespace even::test
