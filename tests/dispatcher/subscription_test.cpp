// CatchUpSubscription with real processes (writer, dispatcher, reader): history then live,
// exactly once and in order, through drops, restarts and subscribers that start mid-load.
#include "even/client/subscription.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dispatcher/cluster.h"
#include "even/client/client.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint64_t> stored(Cluster& c, const std::string& where_extra = "", std::uint64_t from = 1) {
  auto conn = c.store().connect();
  auto rs = conn->query("SELECT global_seq FROM events WHERE global_seq >= " + std::to_string(from) + where_extra +
                        " ORDER BY global_seq");
  std::vector<std::uint64_t> out;
  while (rs->next()) out.push_back(rs->getUInt64(1));
  return out;
}

client::NewEvent fresh(const std::string& type = "T") {
  client::NewEvent e;  // a new event id each time
  e.type = type;
  e.payload = "{}";
  return e;
}

struct Running {
  Cluster cluster;
  explicit Running(std::vector<std::string> dispatcher_flags = {}) {
    cluster.start_writer();
    cluster.start_dispatcher(std::move(dispatcher_flags));
    cluster.start_reader();
  }
};

// evenctl tail: history from --from, then live events, one JSON line each, filtered by category;
// it stops cleanly on SIGTERM.
TEST(SubscriptionTest, EvenctlTailPrintsHistoryThenLiveEvents) {
  Running r;
  client::Client c(r.cluster.client_options());
  auto before = c.append("tailed-1", ExpectedVersion::any(), {fresh("Before")});
  c.append("other-1", ExpectedVersion::any(), {fresh("Elsewhere")});
  const std::string log = ::testing::TempDir() + "evenctl_tail_" + std::to_string(::getpid()) + ".log";
  Process tail({bin("tools/evenctl"), "tail", "--from", "1", "--category", "tailed", "--reader-endpoint",
                r.cluster.reader_endpoint, "--dispatcher-pub-endpoint", r.cluster.pub_endpoint},
               log);
  ASSERT_TRUE(tail.wait_for_log("\"Before\"", 15s)) << tail.log();
  auto live = fresh("Live");
  c.append("tailed-1", ExpectedVersion::any(), {live});
  ASSERT_TRUE(tail.wait_for_log(live.id.to_string(), 15s)) << tail.log();
  tail.signal(SIGTERM);
  EXPECT_EQ(tail.wait(10s), 0) << tail.log();
  const auto out = tail.log();
  EXPECT_NE(out.find("\"global_seq\":" + std::to_string(before.first_global_seq.value())), std::string::npos) << out;
  EXPECT_EQ(out.find("Elsewhere"), std::string::npos) << "the category filter let another category through: " << out;
  EXPECT_LT(out.find("\"Before\""), out.find("\"Live\""));
}

// evenctl tail without a dispatcher: the history still comes, and stderr says why nothing is live
// (as clearly as a wrong writer endpoint fails an append).
TEST(SubscriptionTest, EvenctlTailWithoutADispatcherPrintsHistoryAndSaysTheFeedIsUnreachable) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_reader();
  client::Client c(cluster.client_options());
  c.append("tailed-1", ExpectedVersion::any(), {fresh("Before")});
  const std::string log = ::testing::TempDir() + "evenctl_tail_nofeed_" + std::to_string(::getpid()) + ".log";
  Process tail({bin("tools/evenctl"), "tail", "--from", "1", "--reader-endpoint", cluster.reader_endpoint,
                "--dispatcher-pub-endpoint", cluster.pub_endpoint},
               log);
  ASSERT_TRUE(tail.wait_for_log("\"Before\"", 3s)) << tail.log();
  ASSERT_TRUE(tail.wait_for_log("evenctl tail: feed unreachable: no message from the feed at " + cluster.pub_endpoint,
                                10s))
      << tail.log();
  auto after = fresh("After");
  c.append("tailed-1", ExpectedVersion::any(), {after});
  ASSERT_TRUE(tail.wait_for_log(after.id.to_string(), 5s)) << tail.log();
  tail.signal(SIGTERM);
  EXPECT_EQ(tail.wait(10s), 0) << tail.log();
}

TEST(SubscriptionTest, SeveralSubscribersGetEveryEventOnceInOrderFromHistoryThenLive) {
  Running r;
  client::Client c(r.cluster.client_options());
  // History before anyone subscribes.
  append_concurrently(r.cluster.client_options(), 2, 30, "hist");
  Collected all, only_b, typed;
  auto s1 = c.subscribe(GlobalSeq(1), {}, all.handler());
  auto s2 = c.subscribe(GlobalSeq(1), client::Filter{{"subb"}, {}}, only_b.handler());
  auto s3 = c.subscribe(GlobalSeq(1), client::Filter{{}, {"Special"}}, typed.handler());
  std::thread other([&] { append_concurrently(r.cluster.client_options(), 3, 40, "subb"); });
  append_concurrently(r.cluster.client_options(), 4, 40, "suba");
  for (int i = 0; i < 5; ++i) c.append("special-1", ExpectedVersion::any(), {fresh("Special")});
  other.join();
  const auto head = r.cluster.head();
  ASSERT_TRUE(all.wait_for(*s1, head, 15s));
  ASSERT_TRUE(only_b.wait_for(*s2, head, 15s));
  ASSERT_TRUE(typed.wait_for(*s3, head, 15s));
  EXPECT_EQ(all.seqs(), stored(r.cluster));
  EXPECT_EQ(only_b.seqs(), stored(r.cluster, " AND category = 'subb'"));
  EXPECT_EQ(typed.seqs(), stored(r.cluster, " AND event_type = 'Special'"));
  EXPECT_TRUE(s1->live());
  EXPECT_EQ(s1->error(), nullptr);
}

TEST(SubscriptionTest, ASubscriberStartedInTheMiddleOfALoadGetsEverythingFromItsStartExactlyOnce) {
  Running r;
  client::Client c(r.cluster.client_options());
  std::atomic<bool> loading{true};
  std::thread load([&] {
    while (loading) append_concurrently(r.cluster.client_options(), 3, 30, "mid");
  });
  std::this_thread::sleep_for(700ms);
  const std::uint64_t from = r.cluster.head() / 2 + 1;
  Collected got, got_cat;
  auto sub = c.subscribe(GlobalSeq(from), {}, got.handler());
  auto sub_cat = c.subscribe(GlobalSeq(from), client::Filter{{"mid"}, {}}, got_cat.handler());
  std::this_thread::sleep_for(1000ms);
  loading = false;
  load.join();
  const auto head = r.cluster.head();
  ASSERT_TRUE(got.wait_for(*sub, head, 15s));
  ASSERT_TRUE(got_cat.wait_for(*sub_cat, head, 15s));
  EXPECT_EQ(got.seqs(), stored(r.cluster, "", from));
  EXPECT_EQ(got_cat.seqs(), stored(r.cluster, "", from));
  std::cerr << "started at " << from << ", head " << head << ", " << sub->stats().from_history << " from history, "
            << sub->stats().catch_ups << " catch-ups\n";
}

TEST(SubscriptionTest, PubMessagesDroppedOnPurposeAreRecoveredFromTheStore) {
  Running r({"--dispatcher.test-drop-every", "7"});
  client::Client c(r.cluster.client_options());
  Collected all, cat;
  auto s1 = c.subscribe(GlobalSeq(1), {}, all.handler());
  auto s2 = c.subscribe(GlobalSeq(1), client::Filter{{"dropa"}, {}}, cat.handler());
  std::thread other([&] { append_concurrently(r.cluster.client_options(), 2, 40, "dropb"); });
  append_concurrently(r.cluster.client_options(), 3, 40, "dropa");
  other.join();
  const auto head = r.cluster.head();
  ASSERT_TRUE(all.wait_for(*s1, head, 15s));
  ASSERT_TRUE(cat.wait_for(*s2, head, 15s));
  EXPECT_EQ(all.seqs(), stored(r.cluster));
  EXPECT_EQ(cat.seqs(), stored(r.cluster, " AND category = 'dropa'"));
  EXPECT_GT(s1->stats().catch_ups, 3u) << "the drops must have been noticed";
  EXPECT_TRUE(r.cluster.dispatcher().log().find("dropped on purpose") != std::string::npos ||
              r.cluster.dispatcher().running());
}

TEST(SubscriptionTest, DispatcherSigkilledAndRestartedUnderLoadLosesNothing) {
  Running r;
  client::Client c(r.cluster.client_options());
  Collected all, cat;
  auto s1 = c.subscribe(GlobalSeq(1), {}, all.handler());
  auto s2 = c.subscribe(GlobalSeq(1), client::Filter{{"killa"}, {}}, cat.handler());
  std::atomic<bool> loading{true};
  std::thread load([&] {
    while (loading) append_concurrently(r.cluster.client_options(), 2, 20, "killa");
  });
  std::thread load2([&] {
    while (loading) append_concurrently(r.cluster.client_options(), 1, 20, "killb");
  });
  std::this_thread::sleep_for(500ms);
  r.cluster.kill_dispatcher();
  std::this_thread::sleep_for(500ms);
  r.cluster.start_dispatcher();
  std::this_thread::sleep_for(700ms);
  loading = false;
  load.join();
  load2.join();
  const auto head = r.cluster.head();
  ASSERT_TRUE(all.wait_for(*s1, head, 20s));
  ASSERT_TRUE(cat.wait_for(*s2, head, 20s));
  EXPECT_EQ(all.seqs(), stored(r.cluster));
  EXPECT_EQ(cat.seqs(), stored(r.cluster, " AND category = 'killa'"));
}

TEST(SubscriptionTest, HolesAreSkippedAndALateCommitIsHandedOverInOrder) {
  Running r;
  client::Client c(r.cluster.client_options());
  Collected all;
  auto sub = c.subscribe(GlobalSeq(1), {}, all.handler());
  c.append("x-1", ExpectedVersion::any(), {fresh()});
  std::uint64_t late_id;
  {
    OpenTransaction hole(r.cluster.store(), "hole-1");
    OpenTransaction late(r.cluster.store(), "late-1");
    late_id = late.id();
    for (int i = 0; i < 3; ++i) c.append("x-1", ExpectedVersion::any(), {fresh()});
    std::this_thread::sleep_for(500ms);
    hole.rollback();
    std::this_thread::sleep_for(500ms);
    late.commit();
  }
  const auto head = r.cluster.head();
  ASSERT_TRUE(all.wait_for(*sub, head, 10s));
  const auto want = stored(r.cluster);
  EXPECT_TRUE(std::binary_search(want.begin(), want.end(), late_id));
  EXPECT_EQ(all.seqs(), want);
}

// Records a subscription's state changes (SubscriptionOptions::on_state_change).
class States {
 public:
  void attach(client::SubscriptionOptions& o) {
    o.on_state_change = [this](client::SubscriptionState s, const std::string& detail) {
      std::lock_guard lock(mu_);
      seen_.push_back(s);
      details_.push_back(detail);
    };
  }
  bool saw(client::SubscriptionState s) const {
    std::lock_guard lock(mu_);
    return std::find(seen_.begin(), seen_.end(), s) != seen_.end();
  }
  std::string details() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (std::size_t i = 0; i < seen_.size(); ++i) out += std::string(client::to_string(seen_[i])) + ": " + details_[i] + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<client::SubscriptionState> seen_;
  std::vector<std::string> details_;
};

bool wait_state(const client::CatchUpSubscription& sub, client::SubscriptionState s, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (sub.state() != s) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Without a dispatcher, a subscription from position 1 still delivers the stored history at once
// and then follows new appends through the reader; it says the feed is unreachable. When a
// dispatcher starts, it goes live without a gap or a duplicate, for all events and for one
// category alike.
TEST(SubscriptionTest, WithoutADispatcherTheStoreIsFollowedThroughTheReaderUntilTheFeedComes) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_reader();
  client::Client c(cluster.client_options());
  for (int i = 0; i < 5; ++i) c.append("hist-1", ExpectedVersion::any(), {fresh()});
  c.append("other-1", ExpectedVersion::any(), {fresh()});
  const auto history_head = cluster.head();

  client::SubscriptionOptions o;
  o.feed_timeout = 2000ms;
  o.store_poll_interval = 200ms;
  States states, cat_states;
  auto o_cat = o;
  states.attach(o);
  cat_states.attach(o_cat);
  Collected all, cat;
  auto s1 = c.subscribe(GlobalSeq(1), {}, all.handler(), o);
  auto s2 = c.subscribe(GlobalSeq(1), client::Filter{{"hist"}, {}}, cat.handler(), o_cat);
  // History at once, without waiting for the feed (nor for it to be declared unreachable).
  ASSERT_TRUE(all.wait_for(*s1, history_head, 1500ms))
      << "position " << s1->position().value() << ", state " << client::to_string(s1->state());
  ASSERT_TRUE(cat.wait_for(*s2, history_head, 1500ms));
  EXPECT_EQ(all.seqs(), stored(cluster));
  EXPECT_EQ(cat.seqs(), stored(cluster, " AND category = 'hist'"));
  EXPECT_NE(s1->state(), client::SubscriptionState::live);
  // Then the silence is reported, naming the endpoint.
  ASSERT_TRUE(wait_state(*s1, client::SubscriptionState::feed_unreachable, 5s)) << states.details();
  EXPECT_NE(states.details().find(cluster.pub_endpoint), std::string::npos) << states.details();
  EXPECT_FALSE(s1->live());
  // New appends keep coming, through the reader.
  for (int i = 0; i < 3; ++i) c.append("hist-2", ExpectedVersion::any(), {fresh()});
  auto head = cluster.head();
  ASSERT_TRUE(all.wait_for(*s1, head, 5s)) << states.details();
  ASSERT_TRUE(cat.wait_for(*s2, head, 5s)) << cat_states.details();
  EXPECT_GT(s1->stats().store_polls, 1u);
  EXPECT_EQ(s1->state(), client::SubscriptionState::feed_unreachable);

  // The dispatcher comes: live again, and appends under load arrive exactly once, in order.
  cluster.start_dispatcher();
  std::atomic<bool> loading{true};
  std::thread load([&] {
    while (loading) append_concurrently(cluster.client_options(), 2, 10, "hist");
  });
  ASSERT_TRUE(wait_state(*s1, client::SubscriptionState::live, 10s)) << states.details();
  ASSERT_TRUE(wait_state(*s2, client::SubscriptionState::live, 10s)) << cat_states.details();
  std::this_thread::sleep_for(500ms);
  loading = false;
  load.join();
  head = cluster.head();
  ASSERT_TRUE(all.wait_for(*s1, head, 15s));
  ASSERT_TRUE(cat.wait_for(*s2, head, 15s));
  EXPECT_EQ(all.seqs(), stored(cluster));
  EXPECT_EQ(cat.seqs(), stored(cluster, " AND category = 'hist'"));
  EXPECT_TRUE(s1->live());
  EXPECT_EQ(s1->error(), nullptr);
  std::cerr << states.details();
}

// A feed endpoint where nothing listens: the history and new events still arrive (through the
// reader), and the state says why nothing comes live.
TEST(SubscriptionTest, AWrongFeedEndpointIsReportedAndEventsStillArrive) {
  Running r;
  auto options = r.cluster.client_options();
  options.feed_endpoint = loopback_endpoint();  // nothing there
  client::Client c(options);
  c.append("w-1", ExpectedVersion::any(), {fresh()});
  client::SubscriptionOptions o;
  o.feed_timeout = 500ms;
  States states;
  states.attach(o);
  Collected all;
  auto sub = c.subscribe(GlobalSeq(1), {}, all.handler(), o);
  ASSERT_TRUE(wait_state(*sub, client::SubscriptionState::feed_unreachable, 5s)) << states.details();
  EXPECT_NE(states.details().find(options.feed_endpoint), std::string::npos) << states.details();
  c.append("w-1", ExpectedVersion::any(), {fresh()});
  const auto head = r.cluster.head();
  ASSERT_TRUE(all.wait_for(*sub, head, 5s));
  EXPECT_EQ(all.seqs(), stored(r.cluster));
  sub->stop();
  EXPECT_EQ(sub->state(), client::SubscriptionState::stopped);
  EXPECT_TRUE(states.saw(client::SubscriptionState::stopped));
}

// A handler that throws one of the client's own exceptions (it called the client, which failed)
// stops the subscription too: it is not taken for a failed history read and retried.
TEST(SubscriptionTest, AHandlerThatThrowsAClientErrorStopsTheSubscription) {
  Running r;
  client::Client c(r.cluster.client_options());
  for (int i = 0; i < 5; ++i) c.append("z-1", ExpectedVersion::any(), {fresh()});
  std::atomic<int> calls{0};
  auto sub = c.subscribe(GlobalSeq(1), {}, [&](const client::RecordedEvent&) {
    if (++calls == 2) throw client::InvalidRequest(client::ErrorCode::invalid_stream, "from the handler");
  });
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!sub->error() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  ASSERT_NE(sub->error(), nullptr) << "calls " << calls.load();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(calls.load(), 2) << "the event was handed over again after the handler threw";
  EXPECT_EQ(sub->position().value(), 1u);
  EXPECT_EQ(sub->state(), client::SubscriptionState::stopped);
}

TEST(SubscriptionTest, AHandlerThatThrowsStopsTheSubscriptionAtItsLastPosition) {
  Running r;
  client::Client c(r.cluster.client_options());
  for (int i = 0; i < 5; ++i) c.append("y-1", ExpectedVersion::any(), {fresh()});
  int calls = 0;
  auto sub = c.subscribe(GlobalSeq(1), {}, [&](const client::RecordedEvent& ev) {
    if (++calls == 3) throw std::runtime_error("handler failed at " + std::to_string(ev.global_seq.value()));
  });
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!sub->error() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  ASSERT_NE(sub->error(), nullptr) << "calls " << calls << " position " << sub->position().value() << " catch-ups " << sub->stats().catch_ups << " head " << r.cluster.head();
  EXPECT_EQ(sub->position().value(), 2u);
}

}  // namespace
}  // namespace even::test
