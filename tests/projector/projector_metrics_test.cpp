// The projector's metrics (projector/probe.h) of a real even-projector: a projection left stopped
// on purpose (--projector.stopped) shows a lag that grows with each append, in /metrics and in
// `evenctl stats`, while a running one catches up to lag 0 and times its batches; the page passes
// promtool.
#include <gtest/gtest.h>

#include "projector_fixture.h"
#include "support/metrics_scrape.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

class ProjectorMetricsTest : public ProjectorTest {};

TEST_F(ProjectorMetricsTest, AStoppedProjectionShowsGrowingLagInMetricsAndEvenctlStats) {
  const std::string http = loopback_endpoint().substr(6);
  auto projector = start_projector(write_file("totals.json", kTotalsConfig),
                                   {"--metrics-endpoint", http, "--projector.stopped", "deposits"});
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s)) << projector->log();
  append_deposits(10);
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));

  const metrics::Labels stopped = {{"projection", "deposits"}};
  const metrics::Labels running = {{"projection", "sql_totals"}};
  const double lag1 = wait_metric(http, "even_projector_lag_events", [](double v) { return v >= 10; }, 20s, stopped);
  EXPECT_GE(lag1, 10);
  // Each committed batch is timed by its runner: the running projection's histogram counts the
  // batches of the 10 deposits, and more after 7 more; the stopped one's has none.
  const double batches1 = metric_value(scrape(http), "even_projector_batch_duration_seconds_count", running);
  EXPECT_GE(batches1, 1);
  append_deposits(7);
  EXPECT_GT(wait_metric(http, "even_projector_batch_duration_seconds_count", [&](double v) { return v > batches1; },
                        20s, running),
            batches1);
  const double lag2 =
      wait_metric(http, "even_projector_lag_events", [&](double v) { return v >= lag1 + 7; }, 20s, stopped);
  EXPECT_GE(lag2, lag1 + 7) << scrape(http);
  EXPECT_EQ(wait_metric(http, "even_projector_lag_events", [](double v) { return v == 0; }, 20s, running), 0);

  const std::string page = scrape(http);
  EXPECT_EQ(metric_value(page, "even_projector_state", {{"projection", "deposits"}, {"state", "stopped"}}), 1) << page;
  EXPECT_EQ(metric_value(page, "even_projector_state", {{"projection", "sql_totals"}, {"state", "running"}}), 1);
  EXPECT_GT(metric_value(page, "even_projector_lag_seconds", stopped), 0);
  EXPECT_GE(metric_value(page, "even_projector_events_applied_total", running), 17);
  EXPECT_GT(metric_value(page, "even_projector_batch_duration_seconds_sum", running), 0);
  EXPECT_EQ(metric_value(page, "even_projector_batch_duration_seconds_count", stopped), 0);
  EXPECT_EQ(promtool_check(page), "");

  // evenctl stats: the stopped projection's line says so, with its lag.
  std::string out;
  ASSERT_EQ(run_tool({bin("tools/evenctl"), "stats", "--endpoint", http, "--interval-ms", "200"}, &out), 0) << out;
  const auto line_start = out.find("  deposits");
  ASSERT_NE(line_start, std::string::npos) << out;
  const std::string line = out.substr(line_start, out.find('\n', line_start) - line_start);
  EXPECT_NE(line.find("stopped"), std::string::npos) << out;
  EXPECT_NE(line.find("lag " + std::to_string(static_cast<long>(lag2)) + " events"), std::string::npos) << out;
  append_deposits(3);
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  wait_metric(http, "even_projector_lag_events", [&](double v) { return v >= lag2 + 3; }, 20s, stopped);
  ASSERT_EQ(run_tool({bin("tools/evenctl"), "stats", "--endpoint", http, "--interval-ms", "200"}, &out), 0) << out;
  EXPECT_NE(out.find("lag " + std::to_string(static_cast<long>(lag2 + 3)) + " events"), std::string::npos) << out;
}

}  // namespace
}  // namespace even::test
