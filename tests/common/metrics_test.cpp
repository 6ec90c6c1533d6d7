// The exposition module (common/include/even/common/metrics.h): escaping, histogram buckets, the
// text format, registration rules, parse_text; and the same page through promtool.
#include "even/common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "support/process.h"

namespace even::metrics {
namespace {

TEST(MetricsEscaping, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)" "\nd"), R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("plain"), "plain");
}

TEST(MetricsEscaping, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(escape_help("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");
}

TEST(MetricsFormat, ValuesAreIntegersInfNanOrExact) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e-5), "1e-05");
  EXPECT_EQ(format_value(HUGE_VAL), "+Inf");
  EXPECT_EQ(format_value(-HUGE_VAL), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsFormat, CounterAndGaugeWithLabels) {
  Registry r;
  r.counter("even_test_total", "Things counted", {{"path", "buffered"}, {"result", "ok"}}).inc(3);
  r.counter("even_test_total", "Things counted", {{"path", "serial"}, {"result", "ok"}}).inc();
  r.gauge("even_test_position", "A position").set(17);
  EXPECT_EQ(r.render(),
            "# HELP even_test_position A position\n"
            "# TYPE even_test_position gauge\n"
            "even_test_position 17\n"
            "# HELP even_test_total Things counted\n"
            "# TYPE even_test_total counter\n"
            "even_test_total{path=\"buffered\",result=\"ok\"} 3\n"
            "even_test_total{path=\"serial\",result=\"ok\"} 1\n");
}

TEST(MetricsFormat, SameNameAndLabelsIsTheSameMetric) {
  Registry r;
  auto& a = r.counter("even_x_total", "x", {{"k", "v"}});
  auto& b = r.counter("even_x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.counter("even_x_total", "x", {{"k", "w"}}));
}

TEST(MetricsFormat, BadNamesAndConflictsThrow) {
  Registry r;
  EXPECT_THROW(r.counter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("a-b", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "x", {{"bad-label", "v"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "x", {{"__reserved", "v"}}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h_seconds", "x", {1, 2}, {{"le", "1"}}), std::invalid_argument);
  r.counter("dup", "x");
  EXPECT_THROW(r.gauge("dup", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("dup", "other help"), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
}

TEST(MetricsHistogram, BucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.histogram("even_test_seconds", "Durations", {0.1, 1, 10}, {{"op", "commit"}});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) h.observe(v);  // 0.1 is in the 0.1 bucket (le)
  EXPECT_EQ(r.render(),
            "# HELP even_test_seconds Durations\n"
            "# TYPE even_test_seconds histogram\n"
            "even_test_seconds_bucket{op=\"commit\",le=\"0.1\"} 2\n"
            "even_test_seconds_bucket{op=\"commit\",le=\"1\"} 3\n"
            "even_test_seconds_bucket{op=\"commit\",le=\"10\"} 4\n"
            "even_test_seconds_bucket{op=\"commit\",le=\"+Inf\"} 5\n"
            "even_test_seconds_sum{op=\"commit\"} 22.65\n"
            "even_test_seconds_count{op=\"commit\"} 5\n");
}

TEST(MetricsHistogram, UnlabelledAndExplicitInfBound) {
  Registry r;
  auto& h = r.histogram("even_size", "Sizes", {1, 4, HUGE_VAL});
  h.observe(3);
  const auto text = r.render();
  EXPECT_NE(text.find("even_size_bucket{le=\"4\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("even_size_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("le=\"+Inf\"} 1\neven_size_bucket"), std::string::npos) << "+Inf twice: " << text;
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

TEST(MetricsConcurrency, CountsFromManyThreadsAddUp) {
  Registry r;
  auto& c = r.counter("even_c_total", "c");
  auto& h = r.histogram("even_h", "h", {1, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.inc();
        h.observe(i % 3);
      }
    });
  std::string during = r.render();  // rendering while they count is safe
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 400000u);
  auto counts = h.bucket_counts();
  EXPECT_EQ(counts[0] + counts[1] + counts[2], 400000u);
  EXPECT_DOUBLE_EQ(h.sum(), 4 * (33334.0 * 0 + 33333.0 * 1 + 33333.0 * 2));
}

TEST(MetricsParse, ReadsBackWhatRenderWrites) {
  Registry r;
  r.counter("even_a_total", "a", {{"stream", "we\"ird\\na\nme"}}).inc(5);
  r.gauge("even_b", "b").set(-2.5);
  r.histogram("even_c_seconds", "c", {0.5}).observe(1);
  const auto samples = parse_text(r.render());
  ASSERT_EQ(samples.size(), 6u);
  EXPECT_EQ(samples[0].name, "even_a_total");
  EXPECT_EQ(samples[0].label("stream"), "we\"ird\\na\nme");
  EXPECT_EQ(samples[0].value, 5);
  EXPECT_EQ(samples[1].value, -2.5);
  EXPECT_EQ(samples[2].name, "even_c_seconds_bucket");
  EXPECT_EQ(samples[3].label("le"), "+Inf");
  EXPECT_EQ(samples[3].value, 1);
  EXPECT_THROW(parse_text("bad line here\n"), std::invalid_argument);
  EXPECT_THROW(parse_text("x{a=\"b} 1\n"), std::invalid_argument);
}

TEST(MetricsProcess, BuildInfoUptimeRssAndFds) {
  Registry r;
  add_process_metrics(r);
  const auto samples = parse_text(r.render());
  auto find = [&](const std::string& name) -> const Sample* {
    for (const auto& s : samples)
      if (s.name == name) return &s;
    return nullptr;
  };
  ASSERT_TRUE(find("even_build_info"));
  EXPECT_EQ(find("even_build_info")->label("version"), std::string(build_version()));
  EXPECT_FALSE(find("even_build_info")->label("git_hash").empty());
  ASSERT_TRUE(find("process_resident_memory_bytes"));
  EXPECT_GT(find("process_resident_memory_bytes")->value, 1e5);
  ASSERT_TRUE(find("process_open_fds"));
  EXPECT_GE(find("process_open_fds")->value, 3);
  ASSERT_TRUE(find("even_uptime_seconds"));
  EXPECT_GE(find("even_uptime_seconds")->value, 0);
}

// promtool (Debian package prometheus) is the reference parser: a page with every kind of metric
// and awkward label values must pass `promtool check metrics`. Without promtool this fails.
TEST(MetricsPromtool, RenderedPagePassesPromtoolCheckMetrics) {
  Registry r;
  add_process_metrics(r);
  r.counter("even_test_events_total", "Events, \"quoted\" help with a \\ backslash\nand a newline",
            {{"stream", "a\"b\\c\nd"}, {"path", "buffered"}})
      .inc(7);
  r.gauge("even_test_lag_seconds", "Lag in seconds", {{"projection", "bank"}}).set(0.125);
  r.histogram("even_test_commit_duration_seconds", "Commit durations", duration_buckets()).observe(0.003);
  const std::string path = ::testing::TempDir() + "metrics_test_page.txt";
  std::ofstream(path) << r.render();
  std::string out;
  const int rc = test::run_tool({"/bin/sh", "-c", "promtool check metrics < " + path}, &out);
  EXPECT_EQ(rc, 0) << "promtool check metrics failed (is the Debian package prometheus installed?):\n" << out;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace even::metrics
