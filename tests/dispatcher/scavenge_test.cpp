// Scavenge (even/common/store/scavenge.h) with real processes: it removes from the events table
// what deletes, truncates and max-count hide (nothing younger than its minimum age), in bounded
// batches, while appends go on in another thread and to a stream it scavenges; reads show the same before and after; subscribers (one live through it, one new from
// position 1) and a dispatcher that republishes from position 1 cross the holes it leaves.
// Prints the append throughput during the scavenge against without it, measured in the same run.
#include "even/common/store/scavenge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dispatcher/cluster.h"
#include "even/client/client.h"
#include "even/client/subscription.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

client::NewEvent event() {
  client::NewEvent e;  // a new event id each time
  e.type = "Happened";
  e.payload = R"({"pad":"0123456789012345678901234567890123456789"})";
  return e;
}

std::vector<std::uint64_t> visible_seqs(client::Client& c) {
  std::vector<std::uint64_t> out;
  for (const auto& e : c.read_all(GlobalSeq(1))) out.push_back(e.global_seq.value());
  return out;
}

// Appends single events to "live-N" streams from one client with up to 16 appends in flight,
// counting the ones that completed, until stopped.
class Appender {
 public:
  explicit Appender(const client::ClientOptions& options) : client_(options) {
    thread_ = std::thread([this] { run(); });
  }
  ~Appender() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t done() const { return done_.load(); }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  void run() {
    std::deque<std::future<client::AppendResult>> in_flight;
    int n = 0;
    try {
      while (!stop_) {
        while (in_flight.size() < 16)
          in_flight.push_back(client_.append_async("live-" + std::to_string(n++ % 50), ExpectedVersion::any(), {event()}));
        in_flight.front().get();
        in_flight.pop_front();
        ++done_;
      }
      for (auto& f : in_flight) f.get();
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      error_ = e.what();
    }
  }
  client::Client client_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> done_{0};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

// Events per second the appender completes over `period`.
double rate_over(const Appender& a, std::chrono::milliseconds period) {
  const auto before = a.done();
  const auto start = Clock::now();
  std::this_thread::sleep_for(period);
  return double(a.done() - before) / std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<client::NewEvent> batch(int n) {
  std::vector<client::NewEvent> out;
  for (int i = 0; i < n; ++i) out.push_back(event());
  return out;
}

TEST(ScavengeTest, RemovesWhatLifecyclesHideWhileAppendsGoOnAndSubscribersCrossTheHoles) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  cluster.start_reader();
  client::Client c(cluster.client_options());
  auto& store = cluster.store();

  // 40 streams of 500 events (appended round robin, so that each stream's events are spread over
  // the global order), then deletes, tombstones, truncates and max-counts on most of them.
  constexpr int kStreams = 40, kPerStream = 500, kChunk = 100;
  auto name = [](int s) { return "scav-" + std::to_string(s); };
  for (int k = 0; k < kPerStream; k += kChunk)
    for (int s = 0; s < kStreams; ++s) c.append(name(s), ExpectedVersion::any(), batch(kChunk));
  c.append("keep-1", ExpectedVersion::no_stream(), batch(20));
  for (int s = 0; s < 20; ++s) c.delete_stream(name(s));
  for (int s = 20; s < 25; ++s) c.delete_stream(name(s), /*hard=*/true);
  for (int s = 25; s < 30; ++s) c.truncate_stream(name(s), StreamSeq(200));
  for (int s = 30; s < 40; ++s) c.set_stream_metadata(name(s), {10, {}});
  const std::int64_t hidden = 20 * kPerStream + 5 * kPerStream + 5 * 199 + 10 * (kPerStream - 10);
  const std::int64_t rows_before = store.scalar("SELECT COUNT(*) FROM events");
  const auto visible_before = visible_seqs(c);
  ASSERT_EQ(static_cast<std::int64_t>(visible_before.size()), rows_before - hidden);

  // A subscriber from position 1 that is live through the scavenge, and the raw feed.
  Collected early;
  auto early_sub = c.subscribe(GlobalSeq(1), {}, early.handler());
  ASSERT_TRUE(early.wait_for(*early_sub, visible_before.back(), 20s));

  // With the default minimum age (60 s) nothing this young is removed: the dispatcher may not have
  // verified it yet, a client may still resend it.
  const auto too_young = store::scavenge(store.db(), {});
  EXPECT_EQ(too_young.rows_removed, 0u);
  EXPECT_EQ(too_young.rows_to_remove, 0u);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), rows_before);

  // Append throughput without a scavenge, then during one, in the same run.
  Appender appender(cluster.client_options());
  std::this_thread::sleep_for(300ms);  // warm up
  const double baseline = rate_over(appender, 1500ms);
  const auto appended_before_scavenge = appender.done();
  store::ScavengeOptions options;
  options.batch_rows = 200;
  options.min_age_us = 0;
  options.progress_every_ms = 200;
  std::vector<store::ScavengeProgress> progress;
  const auto scavenge_start = Clock::now();
  auto result = store::scavenge(store.db(), [&] {
    options.progress = [&](const store::ScavengeProgress& p) { progress.push_back(p); };
    return options;
  }());
  const double scavenge_s = std::chrono::duration<double>(Clock::now() - scavenge_start).count();
  const double during = double(appender.done() - appended_before_scavenge) / scavenge_s;
  appender.stop();
  ASSERT_EQ(appender.error(), "");
  std::printf("append throughput: %.0f events/s without a scavenge, %.0f events/s during one (%.2fx); scavenge "
              "removed %llu rows in %.2f s (%.0f rows/s, %zu progress reports)\n",
              baseline, during, baseline > 0 ? during / baseline : 0.0,
              static_cast<unsigned long long>(result.rows_removed), result.seconds, result.rows_per_second(),
              progress.size());
  EXPECT_GT(during, 0) << "appends went on during the scavenge";

  // The rows are gone, nothing visible went with them.
  EXPECT_EQ(static_cast<std::int64_t>(result.rows_removed), hidden);
  EXPECT_EQ(result.rows_to_remove, result.rows_removed);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().rows_removed, result.rows_removed);
  EXPECT_EQ(progress.back().streams_done, progress.back().streams_total);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream IN ('scav-0', 'scav-19', 'scav-20', 'scav-24')"), 0);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'scav-25'"), kPerStream - 199);
  EXPECT_EQ(store.scalar("SELECT MIN(stream_seq) FROM events WHERE stream = 'scav-25'"), 200);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'scav-30'"), 10);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'keep-1'"), 20);
  const auto visible_after = visible_seqs(c);
  const auto stored_after = cluster.stored_seqs();
  EXPECT_EQ(visible_after, stored_after) << "every row left is visible";
  std::vector<std::uint64_t> old_after(visible_after.begin(), visible_after.begin() + visible_before.size());
  EXPECT_EQ(old_after, visible_before) << "what was visible still is";

  // Versions survive the removal of a stream's last events: appends go on from them.
  EXPECT_EQ(c.stream_info(name(0)).version, StreamSeq(kPerStream));
  EXPECT_EQ(c.append(name(0), ExpectedVersion::no_stream(), {event()}).first_stream_seq, StreamSeq(kPerStream + 1));
  EXPECT_THROW(c.append(name(20), ExpectedVersion::any(), {event()}), client::NotFound);
  EXPECT_EQ(c.append(name(30), ExpectedVersion::exact(kPerStream), {event()}).first_stream_seq,
            StreamSeq(kPerStream + 1));
  cluster.start_writer();  // a writer with an empty cache reads the versions from the store
  EXPECT_EQ(c.append(name(1), ExpectedVersion::no_stream(), {event()}).first_stream_seq, StreamSeq(kPerStream + 1));

  // The live subscriber saw everything visible, once, in order; a new one from 1 crosses the holes.
  const auto head = cluster.head();
  ASSERT_TRUE(early.wait_for(*early_sub, head, 20s));
  EXPECT_EQ(early.seqs(), cluster.stored_seqs());
  Collected late;
  auto late_sub = c.subscribe(GlobalSeq(1), {}, late.handler());
  ASSERT_TRUE(late.wait_for(*late_sub, head, 20s));
  EXPECT_EQ(late.seqs(), visible_seqs(c)) << "history as the reader shows it";

  // A second scavenge finds only what became hidden since: the event of scav-30 (max-count 10)
  // that the append above pushed out. (The live subscriber had it: a live subscription may see
  // events that are hidden later, services/writer/README.md.)
  store::ScavengeOptions immediate;
  immediate.min_age_us = 0;
  EXPECT_EQ(store::scavenge(store.db(), immediate).rows_removed, 1u);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'scav-30'"), 10);

  // A dispatcher that republishes from position 1 proves the scavenged positions to be holes and
  // goes on: it reaches the head with an unbroken prev chain.
  cluster.kill_dispatcher();
  FeedRecorder feed(cluster.pub_endpoint);
  cluster.start_dispatcher({"--dispatcher.start-from", "1"});
  ASSERT_TRUE(feed.wait_for(head, 30s)) << cluster.dispatcher().log();
  const auto got = feed.events();
  ASSERT_FALSE(got.empty());
  const auto all = cluster.stored_seqs();
  auto first = std::find(all.begin(), all.end(), got.front().seq);
  ASSERT_NE(first, all.end());
  // (a SUB socket may miss the first few messages while it joins)
  std::vector<std::uint64_t> expected(first, all.end());
  const std::uint64_t first_prev = first == all.begin() ? 0 : *(first - 1);
  EXPECT_TRUE(is_exact_chain(got, expected, first_prev));
  EXPECT_NE(cluster.dispatcher().log().find("are holes"), std::string::npos) << cluster.dispatcher().log();

  // Appends to a max-count stream while it is scavenged one row a batch: the scavenge ends (what
  // it removes is worked out once) and every event a read shows is still stored.
  {
    std::atomic<bool> stop{false};
    auto appending = std::async(std::launch::async, [&] {
      client::Client a(cluster.client_options());
      int n = 0;
      for (; !stop; ++n) a.append(name(31), ExpectedVersion::any(), {event()});
      return n;
    });
    std::this_thread::sleep_for(300ms);
    store::ScavengeOptions one_by_one = immediate;
    one_by_one.batch_rows = 1;
    const auto during_appends = store::scavenge(store.db(), one_by_one);
    stop = true;
    const int appended = appending.get();
    EXPECT_GT(appended, 0);
    EXPECT_GT(during_appends.rows_removed, 0u);
    auto shown = c.read_stream(name(31), StreamSeq(1));
    std::vector<std::int64_t> shown_seqs;
    for (const auto& e : shown) shown_seqs.push_back(e.stream_seq.value());
    ASSERT_EQ(shown_seqs.size(), 10u);
    EXPECT_EQ(shown_seqs.back(), kPerStream + appended);
    EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'scav-31' AND stream_seq >= " +
                           std::to_string(shown_seqs.front())),
              10);
  }
}

TEST(ScavengeTest, BadOptionsAreRefusedAndAStoreWithoutLifecyclesIsLeftAlone) {
  TestStore store;
  auto conn = store.connect();
  conn->execute(
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (UNHEX('00112233445566778899aabbccddeeff'), 'plain-1', 1, 'plain', 'T', 1, '', '', 0)");
  conn->execute("INSERT INTO streams (stream, updated_at_us) VALUES ('plain-1', 1)");
  store::ScavengeOptions zero;
  zero.batch_rows = 0;
  EXPECT_THROW(store::scavenge(store.db(), zero), std::invalid_argument);
  auto r = store::scavenge(store.db(), {});
  EXPECT_EQ(r.rows_removed, 0u);
  EXPECT_EQ(r.streams_total, 0u);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 1);

  // evenctl store scavenge: bad numbers are usage errors; a run prints its summary.
  std::string out;
  const std::vector<std::string> base = {bin("tools/evenctl"), "store", "scavenge"};
  auto with = [&](std::vector<std::string> extra) {
    auto argv = base;
    for (auto& f : db_flags(store.db())) argv.push_back(f);
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  EXPECT_EQ(run_tool(with({"--batch-rows", "0"}), &out), 2) << out;
  EXPECT_EQ(run_tool(with({"--batch-rows", "-5"}), &out), 2) << out;
  EXPECT_EQ(run_tool(with({"--pause-ms", "-1"}), &out), 2) << out;
  EXPECT_EQ(run_tool(with({"--min-age-s", "-1"}), &out), 2) << out;
  store::ScavengeOptions negative;
  negative.min_age_us = -1;
  EXPECT_THROW(store::scavenge(store.db(), negative), std::invalid_argument);
  EXPECT_EQ(run_tool(with({}), &out), 0) << out;
  EXPECT_NE(out.find("\"rows_removed\":0"), std::string::npos) << out;
}

}  // namespace
}  // namespace even::test
