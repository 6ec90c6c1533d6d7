// even-admin against a real system: even-writer, even-dispatcher, even-reader and even-projector
// (the bank example's SQL-config projection) as processes on loopback, and even-admin scraping
// their /metrics and reading through the reader.
//
// AdminBrowser drives headless Chromium through every page (admin_browser.py: dashboard, streams,
// a stream, the live tail, projections), with a stream named <script>alert(1)</script> in the
// store, and writes a screenshot of each page into the test's output folder
// (build/tests/admin/admin_browser_test-output/, or $EVEN_TEST_OUTPUT_DIR). Chromium, its driver or
// python3-selenium missing fails the test.
//
// AdminHttp checks what the browser does not see: the API's escaping-independent headers, the
// password when one is set, the rebuild route's absence without --admin.allow-admin-actions, and
// the refusal to serve beyond loopback without a password.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "even/client/client.h"
#include "even/common/metrics_http.h"
#include "support/metrics_scrape.h"
#include "support/process.h"
#include "support/test_client.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const char* const kScriptStream = "<script>alert(1)</script>";

// A fresh log file per process started (a test's wait_for_log must not see an earlier one's lines).
std::string log_path(const std::string& name) {
  static int n = 0;
  return ::testing::TempDir() + "admin-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".log";
}

// The four services of a cluster, each with its /metrics, on a fresh store and query database.
class System {
 public:
  System() {
    auto http = [] { return loopback_endpoint().substr(6); };
    metrics = {http(), http(), http(), http()};
    start({bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint", pull, "--dispatcher-pub-endpoint",
           pub, "--dispatcher.heartbeat-ms", "100", "--metrics-endpoint", metrics[0]},
          "dispatcher", "pulling committed events", true);
    start({bin("services/writer/even-writer"), "--writer-endpoint", writer, "--dispatcher-pull-endpoint", pull,
           "--metrics-endpoint", metrics[1]},
          "writer", "serving appends", true);
    start({bin("services/reader/even-reader"), "--reader-endpoint", reader, "--metrics-endpoint", metrics[2]}, "reader",
          "serving reads", true);
    start({bin("services/projector/even-projector"), "--reader-endpoint", reader, "--dispatcher-pub-endpoint", pub,
           "--projections", BANK_PROJECTIONS_FILE, "--query-db-name", query.db().name, "--metrics-endpoint", metrics[3]},
          "projector", "projector running", true);
  }

  // Starts even-admin with the cluster's endpoints and `extra` flags; waits until it serves.
  std::unique_ptr<Process> start_admin(const std::string& http, std::vector<std::string> extra) {
    std::vector<std::string> argv = {bin("services/admin/even-admin"), "--reader-endpoint", reader, "--query-db-name",
                                     query.db().name, "--admin.http-endpoint", http, "--admin.scrape-interval-ms", "300"};
    for (const auto& m : metrics) {
      argv.push_back("--admin.metrics-endpoint");
      argv.push_back(m);
    }
    for (auto& f : db_flags(store.db())) argv.push_back(f);
    for (auto& f : extra) argv.push_back(f);
    auto p = std::make_unique<Process>(argv, log_path("admin"));
    if (!p->wait_for_log("serving the admin UI", 20s)) throw std::runtime_error("even-admin did not start:\n" + p->log());
    return p;
  }

  client::Client& client() {
    if (!client_) client_ = std::make_unique<client::Client>(client_options(writer, reader, pub, 20s));
    return *client_;
  }

  TestStore store;
  TestStore query{false};
  std::string writer = loopback_endpoint(), reader = loopback_endpoint(), pub = loopback_endpoint(),
              pull = loopback_endpoint();
  std::vector<std::string> metrics;

 private:
  void start(std::vector<std::string> argv, const std::string& name, const std::string& ready, bool with_db) {
    if (with_db)
      for (auto& f : db_flags(store.db())) argv.push_back(f);
    processes_.push_back(std::make_unique<Process>(argv, log_path(name)));
    if (!processes_.back()->wait_for_log(ready, 30s))
      throw std::runtime_error(name + " did not start:\n" + processes_.back()->log());
  }
  std::vector<std::unique_ptr<Process>> processes_;
  std::unique_ptr<client::Client> client_;
};

// A row written into the store behind the writer's back, as another tool could: the writer refuses
// such a stream name (validate_stream_name), the UI must still show it as text. Its type and
// payload would set window.__xss if parsed as HTML.
void insert_hostile_event(const TestStore& store) {
  auto c = store.connect();
  std::string stream;
  store::append_quoted(stream, kScriptStream);
  const std::string sql =
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (UNHEX(REPLACE(UUID(), '-', '')), " + stream + ", 1, " + stream +
      ", '<img src=x onerror=window.__xss=1>', " + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count()) +
      ", '', '<script>window.__xss=2</script>', 0)";
  c->execute(sql);
  c->execute("INSERT INTO streams (stream, deleted, updated_at_us) VALUES (" + stream + ", 0, 0)");
}

std::string output_dir() {
  if (const char* d = std::getenv("EVEN_TEST_OUTPUT_DIR")) return d;
  return std::string(EVEN_TEST_BINARY_DIR) + "/admin_browser_test-output";
}

TEST(AdminBrowser, EveryPageLoadsShowsTheDataAsTextAndFollowsTheTail) {
  System sys;
  const std::string stream = "browser" + std::to_string(::getpid()) + "-1";
  // Three events, each caused by the one before (the metadata's ids become links).
  std::string previous;
  for (int i = 1; i <= 3; ++i) {
    client::NewEvent e;
    e.type = "Noted";
    e.payload = json{{"i", i}, {"note", "<img src=x onerror=window.__xss=1>"}}.dump();
    json md = {{"correlation_id", previous.empty() ? e.id.to_string() : previous}};
    if (!previous.empty()) md["causation_id"] = previous;
    e.metadata = md.dump();
    previous = e.id.to_string();
    sys.client().append(stream, ExpectedVersion::any(), {e});
  }
  insert_hostile_event(sys.store);
  wait_metric(sys.metrics[3], "even_projector_position", [](double v) { return v >= 0; });

  const std::string http = loopback_endpoint().substr(6);
  auto admin = sys.start_admin(http, {"--admin.allow-admin-actions", "--admin.tail-max-events", "30"});
  const std::string out = output_dir();
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);

  std::string output;
  const int rc = run_tool({"/usr/bin/python3", EVEN_TEST_SOURCE_DIR "/admin_browser.py", "--url", "http://" + http + "/",
                           "--out", out, "--evenctl", bin("tools/evenctl"), "--writer-endpoint", sys.writer, "--stream",
                           stream, "--projection", "bank_activity", "--tail-max", "30"},
                          &output);
  EXPECT_EQ(rc, 0) << output << "\neven-admin's log:\n" << admin->log();
  std::cout << output;
  for (const char* page : {"dashboard", "streams", "stream", "tail", "projections"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + page + ".png")) << page;
}

metrics::HttpResponse get(const std::string& http, const std::string& path,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  return metrics::http_get(http, path, 5000ms, headers);
}

// The status line's code of a GET sent by hand to 127.0.0.1:PORT with `host` as the Host header
// (metrics::http_get always sends the address it connects to); 0 when nothing came back.
int status_with_host(const std::string& port, const std::string& host) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET /api/config HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[256];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) reply.assign(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return reply.size() > 12 && reply.rfind("HTTP/", 0) == 0 ? std::atoi(reply.c_str() + 9) : 0;
}

TEST(AdminHttp, ReadOnlyByDefaultWithHeadersThatForbidInlineScripts) {
  System sys;
  const std::string http = loopback_endpoint().substr(6);
  auto admin = sys.start_admin(http, {});
  auto config = get(http, "/api/config");
  ASSERT_EQ(config.status, 200) << config.error;
  EXPECT_FALSE(json::parse(config.body)["allow_admin_actions"].get<bool>());
  EXPECT_NE(config.headers.find("script-src 'self'"), std::string::npos) << config.headers;
  EXPECT_NE(config.headers.find("X-Content-Type-Options: nosniff"), std::string::npos) << config.headers;
  // The rebuild route does not exist (civetweb's 404), whatever is sent.
  EXPECT_EQ(get(http, "/api/projections/rebuild").status, 404);
  auto index = get(http, "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_EQ(get(http, "/app.js").status, 200);
  EXPECT_EQ(get(http, "/no-such-file.js").status, 404);
  // Bad input gets a clear error.
  auto bad = get(http, "/api/stream?name=a&before=x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("before"), std::string::npos) << bad.body;
  EXPECT_EQ(get(http, "/api/event?id=nope").status, 400);
  EXPECT_EQ(get(http, "/api/stream?name=nobody-1").status, 404);
  // The process's own metrics are on the same server.
  EXPECT_EQ(get(http, "/metrics").status, 200);
  // Without a password only loopback names are answered: a page whose name was made to resolve
  // to 127.0.0.1 (DNS rebinding) sends its own name as Host.
  const std::string port = http.substr(http.rfind(':') + 1);
  EXPECT_EQ(status_with_host(port, "127.0.0.1:" + port), 200);
  EXPECT_EQ(status_with_host(port, "localhost:" + port), 200);
  EXPECT_EQ(status_with_host(port, "rebind.example:" + port), 403);
  EXPECT_EQ(status_with_host(port, "127.0.0.1.rebind.example:" + port), 403);
}

TEST(AdminHttp, APasswordIsRequiredBeyondLoopbackAndCheckedWhenSet) {
  System sys;
  // 0.0.0.0 without a password: refused at start, exit code 2, saying what to set.
  std::string output;
  const std::string port = loopback_endpoint().substr(16);
  std::vector<std::string> argv = {bin("services/admin/even-admin"), "--reader-endpoint", sys.reader,
                                   "--admin.http-endpoint", "0.0.0.0:" + port};
  EXPECT_EQ(run_tool(argv, &output), 2) << output;
  EXPECT_NE(output.find("--admin.password-file"), std::string::npos) << output;
  // A password file that others may read is refused too.
  const std::string file = ::testing::TempDir() + "admin-password-" + std::to_string(::getpid());
  std::ofstream(file) << "s3cret-Pass\n";
  ::chmod(file.c_str(), 0644);
  argv.push_back("--admin.password-file");
  argv.push_back(file);
  EXPECT_EQ(run_tool(argv, &output), 2) << output;
  // An empty one is no password at all: refused, not served open.
  std::ofstream(file, std::ios::trunc) << "\n";
  ::chmod(file.c_str(), 0600);
  EXPECT_EQ(run_tool(argv, &output), 2) << output;
  EXPECT_NE(output.find("holds no password"), std::string::npos) << output;
  std::ofstream(file, std::ios::trunc) << "s3cret-Pass\n";
  // A list of addresses would make civetweb listen on each: one address only.
  std::vector<std::string> listed = {bin("services/admin/even-admin"), "--reader-endpoint", sys.reader,
                                     "--admin.http-endpoint", "127.0.0.1:" + port + ",0.0.0.0:" + port};
  EXPECT_EQ(run_tool(listed, &output), 2) << output;
  EXPECT_NE(output.find("one HOST:PORT"), std::string::npos) << output;

  const std::string http = "127.0.0.1:" + port;
  auto admin = sys.start_admin(http, {"--admin.password-file", file, "--admin.allow-admin-actions"});
  auto denied = get(http, "/api/config");
  EXPECT_EQ(denied.status, 401);
  EXPECT_NE(denied.headers.find("WWW-Authenticate: Basic"), std::string::npos) << denied.headers;
  EXPECT_EQ(get(http, "/", {{"Authorization", "Basic YWRtaW46d3Jvbmc="}}).status, 401);  // admin:wrong
  // admin:s3cret-Pass
  const std::pair<std::string, std::string> auth = {"Authorization", "Basic YWRtaW46czNjcmV0LVBhc3M="};
  EXPECT_EQ(get(http, "/api/config", {auth}).status, 200);
  // The rebuild route is there but takes POST with the X-Even-Admin header only.
  EXPECT_EQ(get(http, "/api/projections/rebuild", {auth}).status, 405);
  ::unlink(file.c_str());
}

}  // namespace
}  // namespace even::test
