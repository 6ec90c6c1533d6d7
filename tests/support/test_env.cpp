#include "support/test_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "even/common/net.h"
#include "even/common/store/schema.h"

namespace even::test {

config::DbOptions server_options() {
  config::DbOptions db;
  if (const char* v = std::getenv("EVEN_TEST_DB_URL")) db.url = v;
  if (const char* v = std::getenv("EVEN_TEST_DB_USER")) db.user = v;
  if (const char* v = std::getenv("EVEN_TEST_DB_PASSWORD")) db.password = v;
  db.connect_timeout_s = 5;
  return db;
}

TestStore::TestStore(bool init) : db_(server_options()) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  db_.name = "even_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
             std::to_string(rd() % 100000);
  try {
    if (init) {
      store::init_store(db_);
    } else {
      auto c = store::Connection::open(db_, false);
      c->execute("CREATE DATABASE " + store::identifier(db_.name));
    }
  } catch (const sql::SQLException& e) {
    throw std::runtime_error("cannot prepare the test store at " + db_.url +
                             " (is the MariaDB of `ops/even db start` running?): " + store::describe(e));
  }
}

TestStore::~TestStore() {
  try {
    auto c = store::Connection::open(db_, false);
    c->execute("DROP DATABASE IF EXISTS " + store::identifier(db_.name));
  } catch (...) {
  }
}

std::unique_ptr<store::Connection> TestStore::connect() const { return store::Connection::open(db_); }

std::int64_t TestStore::scalar(const std::string& sql) const {
  auto c = connect();
  return c->query_int(sql).value_or(0);
}

std::string loopback_endpoint() { return "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port()); }

std::string bin(const std::string& relative) { return std::string(EVEN_BIN_DIR) + "/" + relative; }

std::vector<std::string> db_flags(const config::DbOptions& db) { return config::db_flags(db); }

}  // namespace even::test
