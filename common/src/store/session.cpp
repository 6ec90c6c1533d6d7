#include "even/common/store/session.h"

namespace even::store {

Connection& Session::conn() {
  const auto now = std::chrono::steady_clock::now();
  if (conn_ && store_urls(db_.url).size() > 1 && now >= next_read_only_check_) {
    next_read_only_check_ = now + std::chrono::seconds(1);
    try {
      if (conn_->query_int("SELECT @@read_only").value_or(0) != 0) conn_.reset();  // open() finds the writable one
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
