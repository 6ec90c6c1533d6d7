#include "even/common/store/session.h"

#include "even/common/store/replication.h"

namespace even::store {

Connection& Session::conn() {
  const auto now = std::chrono::steady_clock::now();
  if (conn_ && store_urls(db_.url).size() > 1 && now >= next_read_only_check_) {
    next_read_only_check_ = now + std::chrono::seconds(1);
    try {
      if (is_read_only(*conn_)) conn_.reset();  // open() finds the writable one
    } catch (const sql::SQLException&) {
      conn_.reset();
      throw;
    }
  }
  if (!conn_) {
    conn_ = Connection::open(db_);
    conn_->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  }
  return *conn_;
}

}  // namespace even::store
