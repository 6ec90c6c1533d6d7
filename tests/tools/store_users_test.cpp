// Least-privilege MySQL users over TLS (issue 16, item 2), against the private MariaDB that
// `ops/even db start` sets up with a self-made CA: `evenctl store users` makes the users and their
// password files; each logs in over verified TLS (Ssl_cipher) as itself (CURRENT_USER) with only its
// service's privileges; a wrong CA and a password file readable by others are refused; and writer,
// dispatcher and reader run as their own users over TLS end to end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "dispatcher/cluster.h"
#include "even/client/client.h"
#include "even/common/store/mysql.h"
#include "support/process.h"
#include "support/test_env.h"
#include "support/test_client.h"

namespace {

using namespace even;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The private MariaDB's CA (ops/even test exports EVEN_TEST_DB_TLS_CA; by default the checkout's).
std::string test_ca() {
  if (const char* v = std::getenv("EVEN_TEST_DB_TLS_CA")) return v;
  return std::string(EVEN_SOURCE_DIR) + "/var/mariadb/tls/ca.pem";
}

std::string session_value(store::Connection& c, const std::string& sql, int column = 1) {
  auto rs = c.query(sql);
  return rs->next() ? std::string(rs->getString(column).c_str()) : std::string();
}

// The error code of running `sql` on `c`, 0 when it succeeded.
int error_of(store::Connection& c, const std::string& sql) {
  try {
    c.execute(sql);
    return 0;
  } catch (const sql::SQLException& e) {
    return e.getErrorCode();
  }
}

const std::vector<std::string> kRoles = {"writer", "reader", "dispatcher"};

class StoreUsersTest : public ::testing::Test {
 protected:
  StoreUsersTest()
      : prefix_("t" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) + "_"),
        dir_("/tmp/even-store_users_test-" + prefix_),
        query_db_(store_.db().name + "_q") {
    if (!fs::exists(test_ca()))
      throw std::runtime_error("no CA at " + test_ca() + ": start MariaDB with `ops/even db start` (it makes one)");
  }
  ~StoreUsersTest() override {
    try {
      auto c = store_.connect();
      for (const auto& r : kRoles) c->execute("DROP USER IF EXISTS '" + prefix_ + r + "'@'%'");
      c->execute("DROP USER IF EXISTS '" + prefix_ + "projector_" + query_db_ + "'@'%'");
      c->execute("DROP DATABASE IF EXISTS " + store::identifier(query_db_));
    } catch (...) {
    }
    fs::remove_all(dir_);
  }

  // evenctl store users ... as the test's admin user; returns evenctl's exit code.
  int create_users(std::vector<std::string> extra = {}, std::string* out = nullptr) {
    std::vector<std::string> argv = {test::bin("tools/evenctl"), "store", "users", "--users-dir", dir_,
                                     "--users-prefix", prefix_, "--query-db", query_db_, "--require-tls", "on"};
    for (auto& f : test::db_flags(store_.db())) argv.push_back(f);
    for (auto& f : extra) argv.push_back(f);
    return test::run_tool(argv, out);
  }
  std::string user(const std::string& role) const { return prefix_ + role; }
  std::string password_file(const std::string& role) const { return dir_ + "/" + user(role) + ".password"; }
  // The store's connection options of a service's user, TLS on, verified against the test CA.
  config::DbOptions as(const std::string& role) const {
    auto db = store_.db();
    db.user = user(role);
    db.password.clear();
    db.password_file = password_file(role);
    db.tls = "on";
    db.tls_ca = test_ca();
    return db;
  }
  std::string read_file(const std::string& path) const {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static inline int counter_ = 0;
  test::TestStore store_;
  std::string prefix_, dir_, query_db_;
};

TEST_F(StoreUsersTest, EachUserLogsInAsItselfOverVerifiedTlsWithItsPasswordFile) {
  std::string out;
  ASSERT_EQ(create_users({}, &out), 0) << out;
  for (const auto& role : std::vector<std::string>{"writer", "reader", "dispatcher", "projector_" + query_db_}) {
    SCOPED_TRACE(role);
    struct stat st {};
    ASSERT_EQ(::stat(password_file(role).c_str(), &st), 0) << out;
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto c = store::Connection::open(as(role), /*select_database=*/false);
    EXPECT_EQ(session_value(*c, "SELECT CURRENT_USER()"), user(role) + "@%");
    EXPECT_NE(session_value(*c, "SHOW SESSION STATUS LIKE 'Ssl_cipher'", 2), "") << "not over TLS";
    // REQUIRE SSL: the same user without TLS is refused.
    auto plain = as(role);
    plain.tls = "off";
    try {
      store::Connection::open(plain, false);
      ADD_FAILURE() << role << " logged in without TLS";
    } catch (const sql::SQLException& e) {
      EXPECT_EQ(e.getErrorCode(), 1045) << store::describe(e);
    }
  }
  // The admin connection of the tests (root on loopback, db-tls auto) stays without TLS.
  auto root = store_.connect();
  EXPECT_EQ(session_value(*root, "SHOW SESSION STATUS LIKE 'Ssl_cipher'", 2), "");
}

TEST_F(StoreUsersTest, EachUserHasItsServicesPrivilegesOnly) {
  ASSERT_EQ(create_users(), 0);
  const std::string insert_event =
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (UNHEX(REPLACE(UUID(), '-', '')), 'acc-1', 1, 'acc', 'T', 0, '', '', 1)";
  auto reader = store::Connection::open(as("reader"));
  EXPECT_EQ(error_of(*reader, insert_event), store::kErTableAccessDenied);
  EXPECT_EQ(error_of(*reader, "SELECT COUNT(*) FROM events"), 0);
  auto dispatcher = store::Connection::open(as("dispatcher"));
  EXPECT_EQ(error_of(*dispatcher, insert_event), store::kErTableAccessDenied);
  // The gap check's locking read works with SELECT alone.
  EXPECT_EQ(error_of(*dispatcher, "SELECT global_seq FROM events WHERE global_seq BETWEEN 1 AND 9 LOCK IN SHARE MODE"),
            0);
  auto writer = store::Connection::open(as("writer"));
  EXPECT_EQ(error_of(*writer, insert_event), 0);
  EXPECT_EQ(error_of(*writer, "INSERT INTO streams (stream, updated_at_us) VALUES ('acc-1', 0) "
                              "ON DUPLICATE KEY UPDATE stream = stream"),
            0);
  EXPECT_EQ(error_of(*writer, "DELETE FROM events"), store::kErTableAccessDenied);
  EXPECT_EQ(error_of(*writer, "UPDATE events SET payload = ''"), store::kErTableAccessDenied);
  EXPECT_EQ(error_of(*writer, "INSERT INTO projection_streams VALUES ('p', 1, 1)"), store::kErTableAccessDenied);
  EXPECT_NE(error_of(*writer, "DROP TABLE events"), 0);
  auto projector_db = as("projector_" + query_db_);
  {
    auto p = store::Connection::open(projector_db, false);
    EXPECT_EQ(error_of(*p, "CREATE DATABASE IF NOT EXISTS " + store::identifier(query_db_)), 0);
    EXPECT_EQ(error_of(*p, "CREATE TABLE " + store::identifier(query_db_) + ".rm (k INT PRIMARY KEY)"), 0);
    EXPECT_EQ(error_of(*p, "INSERT INTO " + store::identifier(store_.db().name) + ".projection_streams VALUES ('p', 1, 1)"), 0);
    EXPECT_EQ(error_of(*p, "SELECT COUNT(*) FROM " + store::identifier(store_.db().name) + ".events"),
              store::kErTableAccessDenied);
    EXPECT_NE(error_of(*p, "CREATE DATABASE " + store::identifier(query_db_ + "x")), 0);
  }
  EXPECT_EQ(store_.scalar("SELECT COUNT(*) FROM events"), 1);  // the writer's row only
}

TEST_F(StoreUsersTest, ReRunningKeepsThePasswordsAndRotateMakesNewOnes) {
  ASSERT_EQ(create_users(), 0);
  const std::string first = read_file(password_file("writer"));
  std::string out;
  ASSERT_EQ(create_users({}, &out), 0) << out;
  EXPECT_NE(out.find("\"password\":\"kept\""), std::string::npos) << out;
  EXPECT_EQ(read_file(password_file("writer")), first);
  store::Connection::open(as("writer"));  // still the server's password
  ASSERT_EQ(create_users({"--rotate"}, &out), 0) << out;
  EXPECT_NE(read_file(password_file("writer")), first);
  EXPECT_EQ(read_file(password_file("writer")).size(), 33u);  // 32 characters and a newline
  store::Connection::open(as("writer"));  // the new one
}

TEST_F(StoreUsersTest, AWrongCaFailsTheConnectionWithAClearError) {
  ASSERT_EQ(create_users(), 0);
  const std::string other_ca = dir_ + "/other-ca.pem";
  std::string out;
  ASSERT_EQ(test::run_tool({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                            "/CN=Another CA", "-keyout", dir_ + "/other-ca-key.pem", "-out", other_ca},
                           &out),
            0)
      << out;
  auto db = as("reader");
  db.tls_ca = other_ca;
  try {
    store::Connection::open(db);
    FAIL() << "connected with a CA that did not sign the server's certificate";
  } catch (const sql::SQLException& e) {
    EXPECT_EQ(e.getErrorCode(), store::kCrSslConnectionError) << store::describe(e);
    EXPECT_NE(std::string(e.what()).find("TLS to " + db.url + " failed (db-tls-ca '" + other_ca + "'"),
              std::string::npos)
        << e.what();
  }
  // A service with that CA does not start serving and says why.
  std::vector<std::string> argv = {test::bin("services/writer/even-writer"), "--writer-endpoint", test::loopback_endpoint(),
                                   "--dispatcher-pull-endpoint", "", "--db-url", db.url, "--db-name", db.name,
                                   "--db-user", db.user, "--db-password-file", db.password_file, "--db-tls", "on",
                                   "--db-tls-ca", other_ca};
  test::Process writer(argv, dir_ + "/writer-wrong-ca.log");
  EXPECT_EQ(writer.wait(30s), 1) << writer.log();
  EXPECT_NE(writer.log().find("TLS to " + db.url + " failed"), std::string::npos) << writer.log();
}

TEST_F(StoreUsersTest, APasswordFileReadableByOthersStopsTheServiceAtStart) {
  ASSERT_EQ(create_users(), 0);
  ASSERT_EQ(::chmod(password_file("reader").c_str(), 0644), 0);
  auto db = as("reader");
  test::Process reader({test::bin("services/reader/even-reader"), "--reader-endpoint", test::loopback_endpoint(),
                        "--db-url", db.url, "--db-name", db.name, "--db-user", db.user, "--db-password-file",
                        db.password_file, "--db-tls", "on", "--db-tls-ca", db.tls_ca},
                       dir_ + "/reader-0644.log");
  EXPECT_EQ(reader.wait(30s), 2) << reader.log();
  EXPECT_NE(reader.log().find("has mode 0644: it must be readable by its owner only"), std::string::npos)
      << reader.log();
  // And Connection::open refuses it too (a file changed after the start).
  EXPECT_THROW(store::Connection::open(db), sql::SQLException);
}

// writer + dispatcher + reader, each as its own user over TLS from one config file (the services'
// sections), append and read back through them.
TEST_F(StoreUsersTest, ServicesRunAsTheirOwnUsersOverTlsEndToEnd) {
  ASSERT_EQ(create_users(), 0);
  const auto root = store_.db();
  const std::string conf = dir_ + "/even.conf";
  {
    std::ofstream f(conf);
    f << "db-url = " << root.url << "\ndb-name = " << root.name << "\ndb-user = " << root.user
      << "\ndb-tls-ca = " << test_ca() << "\n";
    for (const auto& role : kRoles)
      f << "[" << role << "]\ndb-user = " << user(role) << "\ndb-password-file = " << password_file(role)
        << "\ndb-tls = on\n";
  }
  const std::string writer_ep = test::loopback_endpoint(), pull_ep = test::loopback_endpoint(),
                    pub_ep = test::loopback_endpoint(), reader_ep = test::loopback_endpoint();
  test::Process dispatcher({test::bin("services/dispatcher/even-dispatcher"), "--config", conf,
                            "--dispatcher-pull-endpoint", pull_ep, "--dispatcher-pub-endpoint", pub_ep,
                            "--dispatcher.heartbeat-ms", "50"},
                           dir_ + "/dispatcher.log");
  ASSERT_TRUE(dispatcher.wait_for_log("pulling committed events", 30s)) << dispatcher.log();
  test::Process writer({test::bin("services/writer/even-writer"), "--config", conf, "--writer-endpoint", writer_ep,
                        "--dispatcher-pull-endpoint", pull_ep},
                       dir_ + "/writer.log");
  ASSERT_TRUE(writer.wait_for_log("serving appends", 30s)) << writer.log();
  test::Process reader({test::bin("services/reader/even-reader"), "--config", conf, "--reader-endpoint", reader_ep},
                       dir_ + "/reader.log");
  test::FeedRecorder feed(pub_ep);
  ASSERT_TRUE(feed.wait_connected(30s));

  client::Client c(test::client_options(writer_ep, reader_ep, pub_ep, 20s));
  client::NewEvent a{EventId::random(), "Opened", R"({"owner":"ada"})", "", PayloadFormat::json};
  client::NewEvent b{EventId::random(), "Deposited", R"({"amount":10})", "", PayloadFormat::json};
  auto r = c.append("account-1", ExpectedVersion::no_stream(), {a, b});
  auto events = c.read_stream("account-1", StreamSeq(1)).to_vector();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, a.id);
  EXPECT_EQ(events[1].payload, b.payload);
  ASSERT_TRUE(feed.wait_for(r.last_global_seq.value(), 20s)) << dispatcher.log();
  EXPECT_EQ(feed.events().back().payload, b.payload);

  // Each service's sessions belong to its own user (REQUIRE SSL: a session of it is a TLS session).
  auto admin = store_.connect();
  for (const auto& role : kRoles) {
    std::string q = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ";
    store::append_quoted(q, user(role));
    EXPECT_GE(admin->query_int(q).value_or(0), 1) << role << " has no session as " << user(role);
  }
  std::string q = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ";
  store::append_quoted(q, root.name);
  q += " AND USER NOT LIKE ";
  store::append_quoted(q, prefix_ + "%");
  q += " AND ID <> CONNECTION_ID()";
  EXPECT_EQ(admin->query_int(q).value_or(-1), 0) << "a service logged in as another user";
  for (auto* p : {&reader, &writer, &dispatcher}) {
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(30s), 0) << p->log();
  }
}

}  // namespace
