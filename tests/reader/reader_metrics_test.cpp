// even-reader's /metrics (reader/probe.h) from a real process: the pages, rows and bytes that the
// workers count where they build a page, beside the broker's requests by kind; promtool accepts
// the page.
#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include "even/client/errors.h"
#include "reader_cluster.h"
#include "support/metrics_scrape.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

TEST(ReaderMetrics, PagesRowsAndBytesOfTheReadsServed) {
  const std::string http = loopback_endpoint().substr(6);  // HOST:PORT
  ReaderCluster cluster({{"--reader.page-max-events", "7", "--metrics-endpoint", http}});
  cluster.append_n("metered-1", "Metered", 20);
  // A client that never resends a read: a resent request would be served (and counted) twice.
  auto options = cluster.client_options();
  options.resend_after = 60s;
  client::Client c(options);

  const std::string before = scrape(http);
  ASSERT_FALSE(before.empty()) << cluster.reader().log();
  const double pages0 = metric_value(before, "even_reader_pages_total");
  const double rows0 = metric_value(before, "even_reader_rows_total");
  const double bytes0 = metric_value(before, "even_reader_page_bytes_total");
  const double streams0 = metric_value(before, "even_reader_requests_total", {{"kind", "readStream"}});
  ASSERT_GE(pages0, 0) << before;
  ASSERT_GE(rows0, 0);

  // 20 events in pages of at most 7: 7 + 7 + 6, the last one says end.
  EXPECT_EQ(c.read_stream("metered-1", StreamSeq(1)).to_vector().size(), 20u);
  std::string page = scrape(http);
  EXPECT_EQ(metric_value(page, "even_reader_pages_total"), pages0 + 3) << page;
  EXPECT_EQ(metric_value(page, "even_reader_rows_total"), rows0 + 20);
  EXPECT_GT(metric_value(page, "even_reader_page_bytes_total"), bytes0 + 20 * 9);  // each payload {"i":N} alone
  EXPECT_EQ(metric_value(page, "even_reader_requests_total", {{"kind", "readStream"}}), streams0 + 3);
  EXPECT_EQ(metric_value(page, "even_reader_page_rows_count"), pages0 + 3);
  EXPECT_EQ(metric_value(page, "even_reader_page_rows_sum"), rows0 + 20);
  EXPECT_EQ(metric_value(page, "even_reader_page_rows_bucket", {{"le", "1"}}), 0);  // no page of 0 or 1 events
  EXPECT_EQ(metric_value(page, "even_reader_page_rows_bucket", {{"le", "10"}}), pages0 + 3);

  // Backward, 5 of them: one page of 5 rows.
  EXPECT_EQ(c.read_stream("metered-1", client::kStreamEnd, client::Direction::backward, 5).to_vector().size(), 5u);
  page = scrape(http);
  EXPECT_EQ(metric_value(page, "even_reader_pages_total"), pages0 + 4);
  EXPECT_EQ(metric_value(page, "even_reader_rows_total"), rows0 + 25);

  // A refusal (a stream that does not exist) and a head are not pages.
  EXPECT_THROW(c.read_stream("metered-none", StreamSeq(1)).to_vector(), client::NotFound);
  EXPECT_GE(c.head().value(), 20u);
  page = scrape(http);
  EXPECT_EQ(metric_value(page, "even_reader_pages_total"), pages0 + 4);
  EXPECT_EQ(metric_value(page, "even_reader_rows_total"), rows0 + 25);
  EXPECT_EQ(metric_value(page, "even_reader_requests_total", {{"kind", "readStream"}}), streams0 + 5);
  EXPECT_GE(metric_value(page, "even_reader_requests_total", {{"kind", "head"}}), 1);

  // $all from the start: every event in the store (these 20), in pages of 7, and an empty last
  // page when the last full one could not tell the end.
  const auto all = c.read_all(GlobalSeq(1)).to_vector();
  EXPECT_EQ(all.size(), 20u);
  page = scrape(http);
  EXPECT_EQ(metric_value(page, "even_reader_rows_total"), rows0 + 45);
  EXPECT_GE(metric_value(page, "even_reader_pages_total"), pages0 + 7);

  EXPECT_EQ(promtool_check(page), "");
}

// Requests beyond --reader.max-requests-in-flight-per-client (2 here) are refused busy and counted
// in even_reader_requests_refused_total; the client library retries them, so 8 concurrent reads on
// one Client all succeed once the store answers. The events table is locked meanwhile, so the 2
// admitted reads cannot end and every other request is refused (each retry once more).
TEST(ReaderMetrics, RefusalsBeyondTheInFlightLimitAreCountedAndRetriedByTheClient) {
  const std::string http = loopback_endpoint().substr(6);  // HOST:PORT
  ReaderCluster cluster({{"--reader.max-requests-in-flight-per-client", "2", "--metrics-endpoint", http}});
  cluster.append_n("limited-1", "Limited", 5);
  auto options = cluster.client_options();
  options.resend_after = 60s;  // only busy replies make the client send again
  client::Client c(options);
  const std::string before = scrape(http);
  ASSERT_FALSE(before.empty()) << cluster.reader().log();
  const double refused0 = metric_value(before, "even_reader_requests_refused_total");
  ASSERT_GE(refused0, 0) << before;

  auto lock = cluster.store.connect();
  lock->execute("LOCK TABLES events WRITE");
  std::vector<std::future<std::optional<StreamSeq>>> reads;
  for (int i = 0; i < 8; ++i) reads.push_back(c.stream_version_async("limited-1"));
  // The 6 beyond the limit are refused, and refused again at each retry (every 50 ms).
  double refused = refused0;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       refused < refused0 + 12 && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(50ms))
    refused = metric_value(scrape(http), "even_reader_requests_refused_total");
  EXPECT_GE(refused, refused0 + 12);
  for (auto& r : reads) EXPECT_EQ(r.wait_for(0s), std::future_status::timeout) << "answered while the store was locked";
  // A call still refused when its timeout comes says why: of 3 calls on a connection of its own,
  // 2 are admitted (and wait for the store), the third is refused until its timeout.
  auto impatient_options = cluster.client_options();
  impatient_options.timeout = 1500ms;
  impatient_options.resend_after = 60s;
  client::Client impatient(impatient_options);
  std::vector<std::future<std::optional<StreamSeq>>> late;
  for (int i = 0; i < 3; ++i) late.push_back(impatient.stream_version_async("limited-1"));
  int said_why = 0;
  for (auto& r : late) {
    try {
      r.get();
      ADD_FAILURE() << "answered while the store was locked";
    } catch (const client::Timeout& e) {
      said_why += std::string(e.what()).find("busy: this connection has 2 requests in the reader already "
                                             "(--reader.max-requests-in-flight-per-client)") != std::string::npos;
    }
  }
  EXPECT_EQ(said_why, 1);
  lock->execute("UNLOCK TABLES");
  for (auto& r : reads) {
    auto version = r.get();
    ASSERT_TRUE(version.has_value());
    EXPECT_EQ(version->value(), 5);
  }
}

}  // namespace
}  // namespace even::test
