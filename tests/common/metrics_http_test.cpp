// MetricsServer (common/include/even/common/metrics_http.h): /metrics, /health/ready and
// /health/live over real HTTP on loopback, readiness from what the services tell their notifier.
#include "even/common/metrics_http.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_env.h"

namespace even::metrics {
namespace {

struct Served {
  std::shared_ptr<Registry> registry = std::make_shared<Registry>();
  std::shared_ptr<notify::ServiceNotifier> notifier = std::make_shared<notify::ServiceNotifier>();
  std::string endpoint = test::loopback_endpoint();
  MetricsServer server{endpoint, registry, notifier, std::chrono::seconds(1)};
};

TEST(MetricsServer, ServesTheRegistryInTheTextFormat) {
  Served s;
  s.registry->counter("even_test_total", "t").inc(4);
  auto r = http_get(s.endpoint, "/metrics");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_NE(r.body.find("even_test_total 4\n"), std::string::npos) << r.body;
  EXPECT_EQ(http_get(s.endpoint, "/nothing-here").status, 404);
}

TEST(MetricsServer, ReadyOnlyWhenEveryServiceIsReadyAndAStandbySaysSo) {
  Served s;
  notify::ServiceNotify writer(s.notifier, "writer");
  notify::ServiceNotify reader(s.notifier, "reader");
  auto r = http_get(s.endpoint, "/health/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"starting\""), std::string::npos) << r.body;

  writer.standby("standby, waiting for the master lock");
  reader.ready("serving reads");
  r = http_get(s.endpoint, "/health/ready");
  EXPECT_EQ(r.status, 503);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["status"], "not ready");
  EXPECT_EQ(body["services"][0]["name"], "writer");
  EXPECT_EQ(body["services"][0]["state"], "standby");
  EXPECT_EQ(body["services"][1]["state"], "ready");

  writer.ready("master");
  r = http_get(s.endpoint, "/health/ready");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["status"], "ready");

  writer.not_ready("the store is unreachable");
  r = http_get(s.endpoint, "/health/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("the store is unreachable"), std::string::npos) << r.body;
}

TEST(MetricsServer, LiveUntilALoopStopsGoingRound) {
  Served s;
  notify::ServiceNotify svc(s.notifier, "dispatcher");
  svc.alive();
  EXPECT_EQ(http_get(s.endpoint, "/health/live").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // live_timeout is 1 s here
  auto r = http_get(s.endpoint, "/health/live");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["status"], "stalled");
  svc.alive();
  EXPECT_EQ(http_get(s.endpoint, "/health/live").status, 200);
}

TEST(MetricsServer, APortInUseThrowsAndNoServerAnswersNothing) {
  Served s;
  EXPECT_THROW(MetricsServer(s.endpoint, s.registry, s.notifier), std::runtime_error);
  EXPECT_THROW(MetricsServer("no-port-here", s.registry, s.notifier), std::invalid_argument);
  auto r = http_get(test::loopback_endpoint(), "/metrics", std::chrono::milliseconds(500));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

// HttpServer (even-admin's routes ride on it): a route answers its path only, sees the query
// decoded by query_param and the request's headers; other methods get 405; a throwing handler a 500.
TEST(HttpServer, RoutesSeeTheirQueryAndHeadersAndRefuseOtherMethods) {
  const std::string endpoint = test::loopback_endpoint();
  HttpServer server(endpoint, HttpServer::Options{});
  server.route("/echo$", [](const HttpRequest& req) {
    HttpReply r;
    r.body = query_param(req.query, "name").value_or("(none)") + "|" + req.authorization;
    r.headers.emplace_back("X-Seen", req.method);
    return r;
  });
  server.route("/boom$", [](const HttpRequest&) -> HttpReply { throw std::runtime_error("broken"); });
  auto r = http_get(endpoint, "/echo?x=1&name=a%3Cb%3E+c%2B", std::chrono::milliseconds(2000),
                    {{"Authorization", "Basic eDp5"}});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "a<b> c+|Basic eDp5");
  EXPECT_NE(r.headers.find("X-Seen: GET"), std::string::npos) << r.headers;
  EXPECT_EQ(http_get(endpoint, "/echo/more").status, 404);
  EXPECT_EQ(http_get(endpoint, "/boom").status, 500);
  EXPECT_EQ(http_get(endpoint, "/echo", std::chrono::milliseconds(2000), {{"Bad", "a\r\nInjected: 1"}}).status, 0);
  EXPECT_EQ(query_param("a=1&b", "b"), std::string());
  EXPECT_EQ(query_param("a=1", "c"), std::nullopt);
  EXPECT_EQ(query_param("a=%zz%4", "a"), std::string("%zz%4"));
}

}  // namespace
}  // namespace even::metrics
