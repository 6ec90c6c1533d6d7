// The writer's and the dispatcher's /metrics and /health of real processes (writer/probe.h,
// dispatcher/probe.h, common metrics_http.h): pages that promtool accepts, counters that grow by
// N after N appends, and a standby writer that is not ready until the master is SIGKILLed.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <thread>
#include <vector>

#include "support/metrics_scrape.h"
#include "writer_fixture.h"

namespace even::test {
namespace {

std::string http_endpoint() { return loopback_endpoint().substr(6); }  // HOST:PORT

bool wait_ready(const std::string& endpoint, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (metrics::http_get(endpoint, "/health/ready").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(WriterMetrics, CommittedEventsAndPublishedPositionGrowByNAfterNAppends) {
  TestStore store;
  const std::string pull = loopback_endpoint(), pub = loopback_endpoint();
  const std::string dispatcher_http = http_endpoint(), writer_http = http_endpoint();
  std::vector<std::string> d_args = {bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint", pull,
                                     "--dispatcher-pub-endpoint", pub, "--metrics-endpoint", dispatcher_http};
  for (auto& f : db_flags(store.db())) d_args.push_back(f);
  Process dispatcher(d_args, ::testing::TempDir() + "metrics-dispatcher-" + std::to_string(::getpid()) + ".log");
  WriterProcess writer(store, loopback_endpoint(),
                       {"--dispatcher-pull-endpoint", pull, "--writer.metrics-endpoint", writer_http});
  ASSERT_TRUE(wait_ready(writer_http)) << writer.process().log();
  ASSERT_TRUE(wait_ready(dispatcher_http)) << dispatcher.log();

  const std::string writer_page = scrape(writer_http);
  const double committed0 = metric_value(writer_page, "even_writer_events_committed_total");
  const double ok0 = metric_value(writer_page, "even_writer_appends_total", {{"result", "ok"}});
  const double position0 = metric_value(scrape(dispatcher_http), "even_dispatcher_published_position");
  ASSERT_GE(committed0, 0) << writer_page;
  ASSERT_GE(position0, 0);
  EXPECT_EQ(metric_value(writer_page, "even_writer_master"), 1);

  constexpr int kN = 25;
  client::Client c(client_options(writer.endpoint()));
  for (int i = 0; i < kN; ++i) {
    c.append("metrics-" + std::to_string(i % 3), ExpectedVersion::any(), {event()});
  }
  // A conflict counts as one, and commits nothing.
  EXPECT_THROW(c.append("metrics-0", ExpectedVersion::no_stream(), {event()}), client::Error);

  EXPECT_EQ(wait_metric(writer_http, "even_writer_events_committed_total", [&](double v) { return v >= committed0 + kN; }),
            committed0 + kN);
  EXPECT_EQ(wait_metric(dispatcher_http, "even_dispatcher_published_position",
                        [&](double v) { return v >= position0 + kN; }),
            position0 + kN);
  const std::string after = scrape(writer_http);
  EXPECT_EQ(metric_value(after, "even_writer_appends_total", {{"result", "ok"}, {"path", "buffered"}}), ok0 + kN);
  EXPECT_EQ(metric_value(after, "even_writer_appends_total", {{"result", "conflict"}, {"path", "serial"}}), 1);
  EXPECT_GE(metric_value(after, "even_writer_commit_duration_seconds_count"), 1);
  EXPECT_EQ(metric_value(after, "even_writer_batch_events_sum"), kN);
  EXPECT_EQ(metric_value(after, "even_build_info"), 1);

  // Both pages are valid for Prometheus' own parser and linter.
  EXPECT_EQ(promtool_check(after), "");
  EXPECT_EQ(promtool_check(scrape(dispatcher_http)), "");
  auto live = metrics::http_get(writer_http, "/health/live");
  EXPECT_EQ(live.status, 200) << live.body;
}

// A lifecycle change is committed in a batch of its own, never with the appends around it: a
// batch whose outcome was unknown (connection lost during COMMIT) is replayed against the state
// it left, and only a lone change replays idempotently (services/writer/README.md).
TEST(WriterMetrics, ALifecycleChangeIsCommittedInABatchOfItsOwn) {
  TestStore store;
  const std::string writer_http = http_endpoint();
  WriterProcess writer(store, loopback_endpoint(), {"--writer.metrics-endpoint", writer_http});
  ASSERT_TRUE(wait_ready(writer_http)) << writer.process().log();
  client::Client c(client_options(writer.endpoint()));
  constexpr int kChanges = 20, kAppends = 200;
  for (int i = 0; i < kChanges; ++i) c.append("life-" + std::to_string(i), ExpectedVersion::no_stream(), {event()});
  auto batches = [&] { return metric_value(scrape(writer_http), "even_writer_batch_appends_count"); };
  auto single = [&] { return metric_value(scrape(writer_http), "even_writer_batch_appends_bucket", {{"le", "1"}}); };

  // Only changes, all at once: as many batches as changes.
  const double batches0 = batches();
  std::vector<std::thread> threads;
  for (int i = 0; i < kChanges; ++i)
    threads.emplace_back([&c, i] { c.set_stream_metadata("life-" + std::to_string(i), {i + 1, {}}); });
  for (auto& t : threads) t.join();
  threads.clear();
  EXPECT_EQ(batches(), batches0 + kChanges);

  // Changes while appends to the same streams are in flight: each change is still alone.
  const double single0 = single();
  std::vector<std::future<client::AppendResult>> appends;
  for (int i = 0; i < kAppends / 2; ++i)
    appends.push_back(c.append_async("life-" + std::to_string(i % kChanges), ExpectedVersion::any(), {event()}));
  for (int i = 0; i < kChanges; ++i)
    threads.emplace_back([&c, i] { c.set_stream_metadata("life-" + std::to_string(i), {{}, {}}); });
  for (int i = kAppends / 2; i < kAppends; ++i)
    appends.push_back(c.append_async("life-" + std::to_string(i % kChanges), ExpectedVersion::any(), {event()}));
  for (auto& t : threads) t.join();
  for (auto& f : appends) EXPECT_FALSE(f.get().idempotent);
  const std::string page = scrape(writer_http);
  EXPECT_EQ(metric_value(page, "even_writer_batch_appends_sum"), 2 * kChanges + kChanges + kAppends);
  EXPECT_GE(metric_value(page, "even_writer_batch_appends_bucket", {{"le", "1"}}), single0 + kChanges);
}

TEST(WriterHealth, StandbyIsNotReadyUntilTheMasterIsKilled) {
  TestStore store;
  const std::string master_http = http_endpoint(), standby_http = http_endpoint();
  WriterProcess master(store, loopback_endpoint(), {"--metrics-endpoint", master_http}, "metrics-master");
  ASSERT_TRUE(master.wait_serving()) << master.process().log();
  WriterProcess standby(store, loopback_endpoint(), {"--metrics-endpoint", standby_http}, "metrics-standby");
  ASSERT_TRUE(standby.process().wait_for_log("standby", std::chrono::seconds(10))) << standby.process().log();

  EXPECT_TRUE(wait_ready(master_http));
  auto ready = metrics::http_get(standby_http, "/health/ready");
  const auto standby_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ready.body.find("\"standby\"") == std::string::npos && std::chrono::steady_clock::now() < standby_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ready = metrics::http_get(standby_http, "/health/ready");
  }
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("\"standby\""), std::string::npos) << ready.body;
  EXPECT_EQ(metrics::http_get(standby_http, "/health/live").status, 200);  // alive, only not serving
  EXPECT_EQ(metric_value(scrape(standby_http), "even_writer_standby"), 1);
  EXPECT_EQ(metric_value(scrape(standby_http), "even_writer_master"), 0);

  master.process().signal(SIGKILL);
  EXPECT_TRUE(wait_ready(standby_http, std::chrono::seconds(30))) << standby.process().log();
  EXPECT_EQ(metric_value(scrape(standby_http), "even_writer_master"), 1);
}

}  // namespace
}  // namespace even::test
