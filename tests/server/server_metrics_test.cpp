// even-server's one /metrics endpoint carries every hosted service's metrics (writer, dispatcher,
// reader, projector) and passes promtool; /health/ready lists each service.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "even/client/client.h"
#include "support/metrics_scrape.h"
#include "support/process.h"
#include "support/test_env.h"
#include "support/test_client.h"

namespace even {
namespace {

using namespace std::chrono_literals;

TEST(ServerMetrics, OneEndpointServesEveryHostedService) {
  test::TestStore store;
  test::TestStore query(false);
  const std::string writer = test::loopback_endpoint(), reader = test::loopback_endpoint(),
                    feed = test::loopback_endpoint(), http = test::loopback_endpoint().substr(6);
  std::vector<std::string> argv = {test::bin("services/server/even-server"), "--writer-endpoint", writer,
                                   "--reader-endpoint", reader, "--dispatcher-pub-endpoint", feed,
                                   "--projections", BANK_PROJECTIONS_FILE, "--query-db-name", query.db().name,
                                   "--reader.metrics-endpoint", http};  // a section's key, as in a shared file
  for (auto& f : test::db_flags(store.db())) argv.push_back(f);
  test::Process server(argv, ::testing::TempDir() + "server-metrics-" + std::to_string(::getpid()) + ".log");
  ASSERT_TRUE(server.wait_for_log("serving appends", 20s)) << server.log();

  client::Client c(test::client_options(writer, reader, feed, 20s));
  for (int i = 0; i < 5; ++i) {
    client::NewEvent e;  // a new event id each time
    e.type = "Tested";
    e.payload = "{}";
    c.append("acct-m", ExpectedVersion::any(), {e});
  }
  EXPECT_GE(c.head().value(), 5u);
  test::wait_metric(http, "even_dispatcher_published_position", [](double v) { return v >= 5; });
  // The projector's series appear at its first report, once its runners started.
  test::wait_metric(http, "even_projector_position", [](double v) { return v >= 0; });

  const std::string page = test::scrape(http);
  EXPECT_EQ(test::metric_value(page, "even_writer_events_committed_total"), 5) << page;
  EXPECT_GE(test::metric_value(page, "even_dispatcher_published_position"), 5);
  EXPECT_GE(test::metric_value(page, "even_reader_requests_total", {{"kind", "head"}}), 1);
  EXPECT_GE(test::metric_value(page, "even_projector_position"), 0);
  EXPECT_EQ(test::metric_value(page, "even_build_info"), 1);
  EXPECT_EQ(test::promtool_check(page), "");

  auto ready = metrics::http_get(http, "/health/ready");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (ready.status != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    ready = metrics::http_get(http, "/health/ready");
  }
  ASSERT_EQ(ready.status, 200) << ready.body;
  std::set<std::string> names;
  const auto body = nlohmann::json::parse(ready.body);
  for (const auto& s : body["services"]) names.insert(s["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"writer", "dispatcher", "reader", "projector"})) << ready.body;
}

}  // namespace
}  // namespace even
