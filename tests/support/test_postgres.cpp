#include "support/test_postgres.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#include "projector/query_db.h"

namespace even::test {

namespace {

std::vector<std::vector<std::string>> run(const config::DbOptions& db, bool select_database, const std::string& sql) {
  try {
    pqxx::connection c(projector::postgres_conninfo(db, select_database));
    pqxx::nontransaction w(c);
    const auto r = w.exec(sql);
    w.commit();
    std::vector<std::vector<std::string>> out;
    for (const auto& row : r) {
      std::vector<std::string> v;
      for (const auto& f : row) v.emplace_back(f.is_null() ? "" : f.c_str());
      out.push_back(std::move(v));
    }
    return out;
  } catch (const std::exception& e) {
    throw std::runtime_error("PostgreSQL at " + db.url + " (database " + (select_database ? db.name : "postgres") +
                             "): " + e.what());
  }
}

}  // namespace

std::optional<config::DbOptions> pg_server_options() {
  const char* url = std::getenv("EVEN_TEST_PG_URL");
  if (!url || !*url) return std::nullopt;
  config::DbOptions db;
  db.url = url;
  db.user = "postgres";
  if (const char* v = std::getenv("EVEN_TEST_PG_USER")) db.user = v;
  if (const char* v = std::getenv("EVEN_TEST_PG_PASSWORD")) db.password = v;
  db.tls = "off";
  db.connect_timeout_s = 5;
  return db;
}

TestPgDatabase::TestPgDatabase() {
  auto server = pg_server_options();
  if (!server) throw std::runtime_error("EVEN_TEST_PG_URL is not set");
  db_ = *server;
  static std::atomic<int> counter{0};
  std::random_device rd;
  db_.name = "even_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
             std::to_string(rd() % 100000);
  try {
    run(db_, false, "CREATE DATABASE " + db_.name);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot create the test database (is the PostgreSQL of `ops/even pg start` "
                                         "running?): ") + e.what());
  }
}

TestPgDatabase::~TestPgDatabase() {
  try {
    run(db_, false, "DROP DATABASE IF EXISTS " + db_.name + " WITH (FORCE)");
  } catch (...) {
  }
}

std::vector<std::vector<std::string>> TestPgDatabase::rows(const std::string& sql) const { return run(db_, true, sql); }

std::int64_t TestPgDatabase::scalar(const std::string& sql) const {
  auto r = rows(sql);
  return r.empty() || r[0].empty() || r[0][0].empty() ? 0 : std::stoll(r[0][0]);
}

void TestPgDatabase::execute(const std::string& sql) const { run(db_, true, sql); }

std::vector<std::string> TestPgDatabase::projector_flags() const {
  return {"--query-db-url", db_.url, "--query-db-user", db_.user, "--query-db-name", db_.name};
}

}  // namespace even::test
