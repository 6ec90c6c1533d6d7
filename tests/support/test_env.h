// What integration tests share: a private store database per test, endpoints on loopback, and
// the paths of the built service binaries. Tests need the MariaDB started by `ops/even test`
// (EVEN_TEST_DB_URL / EVEN_TEST_DB_USER / EVEN_TEST_DB_PASSWORD); without it they fail loudly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "even/common/config.h"
#include "even/common/store/mysql.h"

namespace even::test {

// Connection options for the test server, with no database chosen.
config::DbOptions server_options();

// A freshly created and initialised event store database, dropped on destruction.
class TestStore {
 public:
  explicit TestStore(bool init = true);
  ~TestStore();
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  const config::DbOptions& db() const { return db_; }
  std::unique_ptr<store::Connection> connect() const;
  std::int64_t scalar(const std::string& sql) const;  // first column of first row, 0 when none

 private:
  config::DbOptions db_;
};

// A tcp://127.0.0.1:PORT endpoint on a port that was free a moment ago.
std::string loopback_endpoint();
// Absolute path of a built binary, e.g. bin("services/writer/even-writer").
std::string bin(const std::string& relative);
// Common flags to point a service at a store: --db-url ... --db-name ... (config::db_flags)
std::vector<std::string> db_flags(const config::DbOptions& db);

}  // namespace even::test
