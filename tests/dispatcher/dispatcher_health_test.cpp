// even-dispatcher's /health/ready follows its store (dispatcher/dispatcher_service.h): a real
// process whose store connection goes through a TCP relay on loopback is "not ready" (503, the
// store's error in the JSON) while the relay is closed, at start-up and while it runs, and ready
// (200) once the store answers again.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <signal.h>

#include "support/metrics_scrape.h"
#include "support/process.h"
#include "support/tcp_relay.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

// The port of a tcp://HOST:PORT url.
int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// Waits until GET /health/ready answers `status`; returns the last answer.
metrics::HttpResponse wait_health(const std::string& http, int status, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto r = metrics::http_get(http, "/health/ready");
  while (r.status != status && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    r = metrics::http_get(http, "/health/ready");
  }
  return r;
}

// The dispatcher's part of a /health/ready body.
nlohmann::json dispatcher_part(const std::string& body) {
  auto j = nlohmann::json::parse(body);
  for (const auto& p : j.at("services"))
    if (p.value("name", "") == "dispatcher") return p;
  ADD_FAILURE() << "no dispatcher in " << body;
  return {};
}

TEST(DispatcherHealth, NotReadyWhileTheStoreIsUnreachable) {
  TestStore store;
  TcpRelay relay("127.0.0.1", port_of(store.db().url));
  relay.close();  // the store is unreachable from the start
  auto db = store.db();
  db.url = "tcp://127.0.0.1:" + std::to_string(relay.port());
  const std::string http = loopback_endpoint().substr(6);
  std::vector<std::string> argv = {bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint",
                                   loopback_endpoint(), "--dispatcher-pub-endpoint", loopback_endpoint(),
                                   "--metrics-endpoint", http};
  for (auto& f : db_flags(db)) argv.push_back(f);
  Process dispatcher(argv, ::testing::TempDir() + "dispatcher-health-" + std::to_string(::getpid()) + ".log");

  // Start-up without a store: alive, not ready, and the JSON says why.
  ASSERT_TRUE(dispatcher.wait_for_log("store unavailable at start-up", 30s)) << dispatcher.log();
  auto r = wait_health(http, 503);
  ASSERT_EQ(r.status, 503) << r.body << dispatcher.log();
  auto part = dispatcher_part(r.body);
  EXPECT_EQ(part.value("state", ""), "not ready") << r.body;
  EXPECT_NE(part.value("status", "").find("store is unavailable"), std::string::npos) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body).value("status", ""), "not ready") << r.body;
  EXPECT_EQ(metrics::http_get(http, "/health/live").status, 200);

  relay.open();
  r = wait_health(http, 200);
  ASSERT_EQ(r.status, 200) << r.body << dispatcher.log();
  EXPECT_EQ(dispatcher_part(r.body).value("state", ""), "ready") << r.body;
  const double errors0 = metric_value(scrape(http), "even_dispatcher_store_errors_total");

  // While running: the store's connection is cut and new ones are refused.
  for (int round = 0; round < 2; ++round) {
    relay.close();
    r = wait_health(http, 503);
    ASSERT_EQ(r.status, 503) << r.body << dispatcher.log();
    part = dispatcher_part(r.body);
    EXPECT_EQ(part.value("state", ""), "not ready") << r.body;
    EXPECT_NE(part.value("status", "").find("the store fails"), std::string::npos) << r.body;
    EXPECT_EQ(metrics::http_get(http, "/health/live").status, 200);
    EXPECT_GT(metric_value(scrape(http), "even_dispatcher_store_errors_total"), errors0);

    relay.open();
    r = wait_health(http, 200);
    ASSERT_EQ(r.status, 200) << r.body << dispatcher.log();
    EXPECT_EQ(dispatcher_part(r.body).value("state", ""), "ready") << r.body;
  }
  EXPECT_TRUE(dispatcher.wait_for_log("the store answers again", 10s)) << dispatcher.log();

  dispatcher.signal(SIGTERM);
  EXPECT_EQ(dispatcher.wait(30s), 0) << dispatcher.log();
}

}  // namespace
}  // namespace even::test
