// even-dispatcher with real processes: even-writer pushes, the dispatcher publishes, raw SUB
// sockets check order, prev pointers, holes, late commits, restarts and the polling path.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "dispatcher/cluster.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;
using client::AppendResult;

client::NewEvent event(const std::string& type = "Tested") {
  client::NewEvent e;
  e.type = type;
  e.payload = "{}";
  return e;
}

std::vector<std::uint64_t> seqs_of(const std::vector<FeedRecord>& v) {
  std::vector<std::uint64_t> out;
  for (auto& r : v) out.push_back(r.seq);
  return out;
}

TEST(DispatcherTest, EventsFromConcurrentClientsArriveInOrderAtEverySubscriber) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  FeedRecorder all1(cluster.pub_endpoint), all2(cluster.pub_endpoint), all3(cluster.pub_endpoint);
  FeedRecorder only_b(cluster.pub_endpoint, "ev|catb|");
  for (auto* r : {&all1, &all2, &all3, &only_b}) ASSERT_TRUE(r->wait_connected(5s));

  std::thread other([&] { append_concurrently(cluster.client_options(), 3, 60, "catb"); });
  const auto n = append_concurrently(cluster.client_options(), 6, 80, "cata");
  other.join();
  const auto stored = cluster.stored_seqs();
  ASSERT_GE(stored.size(), n);
  for (auto* r : {&all1, &all2, &all3}) {
    ASSERT_TRUE(r->wait_for(stored.back(), 10s));
    EXPECT_TRUE(is_exact_chain(r->events(), stored, 0));
  }
  // The category subscriber: only catb, chained by prevInCategory.
  auto b = only_b.events();
  std::vector<std::uint64_t> stored_b;
  {
    auto c = cluster.store().connect();
    auto rs = c->query("SELECT global_seq FROM events WHERE category = 'catb' ORDER BY global_seq");
    while (rs->next()) stored_b.push_back(rs->getUInt64(1));
  }
  ASSERT_TRUE(only_b.wait_for(stored_b.back(), 10s));
  b = only_b.events();
  ASSERT_EQ(seqs_of(b), stored_b);
  for (std::size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b[i].prev_in_category, i == 0 ? 0 : b[i - 1].seq) << "at " << b[i].seq;
    EXPECT_EQ(b[i].stream.rfind("catb-", 0), 0u);
  }
  // Heartbeats carry the head when idle.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(all1.last_heartbeat_head(), stored.back());
}

TEST(DispatcherTest, RolledBackTransactionIsSkippedAfterTheWaitAndNeverStalls) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  client::Client c(cluster.client_options());
  c.append("before-1", ExpectedVersion::any(), {event()});

  // A quick rollback (the usual hole), then one held for 700 ms while the writer goes on.
  { OpenTransaction quick(cluster.store(), "manual-1"); }
  auto r1 = c.append("after-1", ExpectedVersion::any(), {event()});
  ASSERT_TRUE(rec.wait_for(r1.last_global_seq.value(), 3s)) << "a rolled-back id stalled delivery";

  std::uint64_t held_id;
  AppendResult r2;
  {
    OpenTransaction held(cluster.store(), "manual-2");
    held_id = held.id();
    r2 = c.append("after-2", ExpectedVersion::any(), {event(), event()});
    std::this_thread::sleep_for(700ms);
    EXPECT_LT(seqs_of(rec.events()).back(), held_id) << "published past an id whose transaction is still open";
    held.rollback();
  }
  const auto rolled_back = std::chrono::steady_clock::now();
  ASSERT_TRUE(rec.wait_for(r2.last_global_seq.value(), 5s)) << "hole " << held_id << " stalled delivery";
  const auto after = std::chrono::steady_clock::now() - rolled_back;
  EXPECT_LT(after, 2500ms);
  std::cerr << "hole skipped " << std::chrono::duration_cast<std::chrono::milliseconds>(after).count()
            << " ms after the rollback\n";
  const auto stored = cluster.stored_seqs();
  EXPECT_TRUE(is_exact_chain(rec.events(), stored, 0));
  EXPECT_EQ(std::set<std::uint64_t>(stored.begin(), stored.end()).count(held_id), 0u);
}

TEST(DispatcherTest, AMissingEventThatCommitsLateIsDeliveredInOrder) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  client::Client c(cluster.client_options());
  c.append("before-1", ExpectedVersion::any(), {event()});

  OpenTransaction late(cluster.store(), "late-1");
  std::vector<AppendResult> after;
  for (int i = 0; i < 5; ++i) after.push_back(c.append("after-1", ExpectedVersion::any(), {event()}));
  std::this_thread::sleep_for(1500ms);  // far beyond --gap-wait-ms and a second of trx_started
  EXPECT_FALSE(rec.wait_for(after.front().first_global_seq.value(), 1ms)) << "skipped an open transaction's id";
  late.commit();
  ASSERT_TRUE(rec.wait_for(after.back().last_global_seq.value(), 5s));
  const auto stored = cluster.stored_seqs();
  EXPECT_TRUE(std::binary_search(stored.begin(), stored.end(), late.id()));
  EXPECT_TRUE(is_exact_chain(rec.events(), stored, 0));
}

TEST(DispatcherTest, ResumesFromTheStoreHeadAndPublishesEventsWrittenBehindTheWritersBack) {
  Cluster cluster;
  cluster.start_writer();
  client::Client c(cluster.client_options());
  for (int i = 0; i < 20; ++i) c.append("early-1", ExpectedVersion::any(), {event()});
  const auto head = cluster.head();
  cluster.start_dispatcher();
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(rec.last_heartbeat_head(), head) << "must resume at the store head, not from zero";
  // An event that the writer never pushes (another process): found by polling the store.
  { OpenTransaction other(cluster.store(), "other-1"); other.commit(); }
  auto r = c.append("later-1", ExpectedVersion::any(), {event()});
  ASSERT_TRUE(rec.wait_for(r.last_global_seq.value(), 5s));
  EXPECT_TRUE(is_exact_chain(rec.events(), cluster.stored_seqs(head + 1), head));
  // Only the poll can find a silent direct write.
  { OpenTransaction other(cluster.store(), "other-2"); other.commit(); }
  ASSERT_TRUE(rec.wait_for(cluster.head(), 3s));
  EXPECT_TRUE(is_exact_chain(rec.events(), cluster.stored_seqs(head + 1), head));
}

TEST(DispatcherTest, SigkilledDispatcherRestartsUnderLoadAndResumesWhereTheStoreIs) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  std::atomic<bool> loading{true};
  std::thread load([&] {
    while (loading) append_concurrently(cluster.client_options(), 2, 20, "kill");
  });
  std::this_thread::sleep_for(400ms);
  cluster.kill_dispatcher();
  std::this_thread::sleep_for(300ms);
  cluster.start_dispatcher();
  std::this_thread::sleep_for(500ms);
  loading = false;
  load.join();
  ASSERT_TRUE(rec.wait_for(cluster.head(), 10s));
  // Everything the recorder got is in order with no duplicates; what it missed is exactly what
  // the prev pointers say it missed (a subscriber catches that up from the reader).
  auto got = rec.events();
  const auto stored = cluster.stored_seqs();
  std::set<std::uint64_t> received;
  std::uint64_t last = 0;
  int announced_gaps = 0;
  for (auto& r : got) {
    ASSERT_GT(r.seq, last) << "out of order or duplicate";
    if (r.prev != last) {
      ++announced_gaps;
      EXPECT_GT(r.prev, last) << "a prev pointer went backwards";
    }
    received.insert(r.seq);
    last = r.seq;
  }
  std::size_t missed = 0;
  for (auto s : stored) missed += !received.count(s);
  std::cerr << got.size() << " events received live, " << missed << " missed during the restart, " << announced_gaps
            << " announced gaps\n";
  EXPECT_GE(announced_gaps, missed > 0 ? 1 : 0);
  EXPECT_LE(announced_gaps, 1);
  // After the restart the chain is exact again.
  EXPECT_TRUE(cluster.dispatcher().running());
}

TEST(DispatcherTest, TestSwitchDropsEveryNthMessageAndThePrevPointersShowIt) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher({"--dispatcher.test-drop-every", "5"});
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  append_concurrently(cluster.client_options(), 2, 25, "drop");
  const auto stored = cluster.stored_seqs();
  std::this_thread::sleep_for(300ms);
  auto got = rec.events();
  EXPECT_EQ(got.size(), stored.size() - stored.size() / 5);
  int gaps = 0;
  std::uint64_t last = 0;
  for (auto& r : got) {
    if (r.prev != last) ++gaps;
    last = r.seq;
  }
  EXPECT_EQ(gaps, static_cast<int>(stored.size() / 5) - (stored.size() % 5 == 0 ? 1 : 0));
  EXPECT_EQ(rec.last_heartbeat_head(), stored.back()) << "the heartbeat shows a dropped last event";
}

}  // namespace
}  // namespace even::test
