// Session: one store connection for a long-running reader of the store (the dispatcher's gap
// reads, even-groups), opened on first use and dropped after an error so that the next call
// reconnects. Each statement sees what is committed when it starts (READ COMMITTED: no stale
// snapshot between reads). With a url list (primary + replicas), the server is checked about once
// a second and left when it has become read-only (a demoted primary no longer gets the writer's
// commits); open() then finds the writable one. Not thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <utility>

#include "even/common/store/db_options.h"
#include "even/common/store/mysql.h"

namespace even::store {

class Session {
 public:
  explicit Session(DbOptions db) : db_(std::move(db)) {}

  // The connection, opened (or reopened) now when needed. Throws sql::SQLException.
  Connection& conn();
  // f(conn()); on sql::SQLException the connection is dropped (reconnect on the next call) and
  // the exception rethrown: the caller decides when to try again.
  template <typename F>
  auto guarded(F&& f) -> decltype(f(std::declval<Connection&>())) {
    try {
      return f(conn());
    } catch (const sql::SQLException&) {
      conn_.reset();
      throw;
    }
  }
  const DbOptions& db() const { return db_; }

 private:
  DbOptions db_;
  std::unique_ptr<Connection> conn_;
  std::chrono::steady_clock::time_point next_read_only_check_{};
};

}  // namespace even::store
