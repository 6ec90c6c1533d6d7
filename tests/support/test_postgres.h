// PostgreSQL for tests: the server of `ops/even test` (EVEN_TEST_PG_URL, postgresql://HOST:PORT;
// EVEN_TEST_PG_USER, default postgres; EVEN_TEST_PG_PASSWORD) and a scratch database on it per
// test. A test that needs PostgreSQL calls EVEN_REQUIRE_POSTGRES(): it skips, saying why, when
// EVEN_TEST_PG_URL is not set at all; when it is set, an unreachable server FAILS the test.
//
// TestPgDatabase talks to the server with libpqxx directly (not through the projector's code that
// the tests check). Not thread-safe; one per test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "even/common/config.h"

namespace even::test {

// The test PostgreSQL server, no database chosen; nullopt when EVEN_TEST_PG_URL is not set.
std::optional<config::DbOptions> pg_server_options();

#define EVEN_REQUIRE_POSTGRES()                                                                     \
  do {                                                                                              \
    if (!::even::test::pg_server_options())                                                         \
      GTEST_SKIP() << "EVEN_TEST_PG_URL is not set (ops/even test sets it; or ops/even pg start and " \
                      "EVEN_TEST_PG_URL=postgresql://127.0.0.1:5433)";                              \
  } while (0)

class TestPgDatabase {
 public:
  // Creates an empty database even_test_<pid>_<n>_<r> on the test server. Throws
  // std::runtime_error naming the url when EVEN_TEST_PG_URL is unset or the server cannot be reached.
  TestPgDatabase();
  ~TestPgDatabase();  // drops it (closing other sessions' connections to it)
  TestPgDatabase(const TestPgDatabase&) = delete;
  TestPgDatabase& operator=(const TestPgDatabase&) = delete;

  const config::DbOptions& db() const { return db_; }
  // Every row of a query, columns as text ("" for NULL). Throws std::runtime_error with the server's message.
  std::vector<std::vector<std::string>> rows(const std::string& sql) const;
  std::int64_t scalar(const std::string& sql) const;  // first column of the first row, 0 when none
  void execute(const std::string& sql) const;
  // --query-db-url/-user/-name flags that point a projector at this database.
  std::vector<std::string> projector_flags() const;

 private:
  config::DbOptions db_;
};

}  // namespace even::test
