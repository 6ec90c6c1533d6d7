#include "dispatcher/gap_store.h"

namespace even::dispatcher {

store::Connection& MysqlGapStore::conn() {
  if (!conn_) {
    conn_ = store::Connection::open(db_);
    // Each statement sees what is committed when it starts (no stale snapshot between reads).
    conn_->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  }
  return *conn_;
}

template <typename F>
auto MysqlGapStore::guarded(F&& f) -> decltype(f(std::declval<store::Connection&>())) {
  try {
    return f(conn());
  } catch (const sql::SQLException&) {
    conn_.reset();  // reconnect on the next call; the caller retries later
    throw;
  }
}

std::vector<store::StoredEvent> MysqlGapStore::read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) {
  return guarded([&](store::Connection& c) {
    std::vector<store::StoredEvent> out;
    if (to < from || limit == 0) return out;
    auto rs = c.query(std::string("SELECT ") + store::kEventColumns + " FROM events WHERE global_seq BETWEEN " +
                      std::to_string(from.value()) + " AND " + std::to_string(to.value()) +
                      " ORDER BY global_seq LIMIT " + std::to_string(limit));
    while (rs->next()) out.push_back(store::read_event_row(*rs));
    return out;
  });
}

GlobalSeq MysqlGapStore::head() {
  return guarded([](store::Connection& c) {
    return GlobalSeq(static_cast<std::uint64_t>(c.query_int("SELECT MAX(global_seq) FROM events").value_or(0)));
  });
}

std::string MysqlGapStore::now() {
  return guarded([](store::Connection& c) {
    auto rs = c.query("SELECT CAST(NOW(6) AS CHAR)");
    rs->next();
    return std::string(rs->getString(1).c_str());
  });
}

std::optional<bool> MysqlGapStore::transactions_open_since(const std::string& since) {
  if (trx_list_denied_) return std::nullopt;
  try {
    return guarded([&](store::Connection& c) -> std::optional<bool> {
      // trx_started has one-second resolution and is truncated, so "<= since" errs on the safe
      // side: it also counts transactions that began up to a second after `since`.
      std::string q =
          "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_rows_modified > 0 "
          "AND trx_mysql_thread_id <> CONNECTION_ID() AND trx_started <= ";
      store::append_quoted(q, since);
      return c.query_int(q).value_or(0) > 0;
    });
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() == 1227 /* ER_SPECIFIC_ACCESS_DENIED_ERROR */ || e.getErrorCode() == 1044 ||
        e.getErrorCode() == 1142) {
      trx_list_denied_ = true;
      return std::nullopt;
    }
    throw;
  }
}

GlobalSeq MysqlGapStore::last_in_category(std::string_view category, GlobalSeq before) {
  return guarded([&](store::Connection& c) {
    std::string q = "SELECT MAX(global_seq) FROM events WHERE category = ";
    store::append_quoted(q, category);
    q += " AND global_seq < " + std::to_string(before.value());
    return GlobalSeq(static_cast<std::uint64_t>(c.query_int(q).value_or(0)));
  });
}

}  // namespace even::dispatcher
