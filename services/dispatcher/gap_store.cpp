#include "dispatcher/gap_store.h"

namespace even::dispatcher {

std::vector<RecordedEvent> GapStore::read_ranges(const std::vector<SeqRange>& ranges) {
  std::vector<RecordedEvent> out;
  for (const auto& r : ranges) {
    if (r.to < r.from) continue;
    for (auto& e : read_range(r.from, r.to, r.to.value() - r.from.value() + 1)) out.push_back(std::move(e));
  }
  return out;
}

template <typename F>
auto MysqlGapStore::guarded(F&& f) -> decltype(f(std::declval<store::Connection&>())) {
  auto result = session_.guarded(std::forward<F>(f));  // drops the connection on an error: the caller retries later
  ++answers_;
  return result;
}

std::vector<RecordedEvent> MysqlGapStore::read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) {
  return guarded([&](store::Connection& c) {
    std::vector<RecordedEvent> out;
    if (to < from || limit == 0) return out;
    auto rs = c.query(std::string("SELECT ") + store::kEventColumns + " FROM events WHERE global_seq BETWEEN " +
                      std::to_string(from.value()) + " AND " + std::to_string(to.value()) +
                      " ORDER BY global_seq LIMIT " + std::to_string(limit));
    while (rs->next()) out.push_back(store::read_event_row(*rs));
    return out;
  });
}

std::vector<RecordedEvent> MysqlGapStore::read_ranges(const std::vector<SeqRange>& ranges) {
  return guarded([&](store::Connection& c) {
    std::vector<RecordedEvent> out;
    if (ranges.empty()) return out;
    std::string q = std::string("SELECT ") + store::kEventColumns + " FROM events WHERE ";
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      if (i > 0) q += " OR ";
      q += "global_seq BETWEEN " + std::to_string(ranges[i].from.value()) + " AND " +
           std::to_string(ranges[i].to.value());
    }
    q += " ORDER BY global_seq";
    auto rs = c.query(q);
    while (rs->next()) out.push_back(store::read_event_row(*rs));
    return out;
  });
}

GlobalSeq MysqlGapStore::head() {
  return guarded([](store::Connection& c) {
    return GlobalSeq(static_cast<std::uint64_t>(c.query_int("SELECT MAX(global_seq) FROM events").value_or(0)));
  });
}

std::optional<bool> MysqlGapStore::uncommitted_in(GlobalSeq from, GlobalSeq to) {
  if (no_lock_check_) return std::nullopt;
  try {
    return guarded([&](store::Connection& c) -> std::optional<bool> {
      // An inserted but uncommitted row carries its transaction's lock; a locking read meets it
      // and, with NOWAIT, fails at once instead of waiting. READ COMMITTED: no gap locks, and
      // the shared record locks last for this one autocommit statement only.
      c.query("SELECT global_seq FROM events WHERE global_seq BETWEEN " + std::to_string(from.value()) + " AND " +
              std::to_string(to.value()) + " LOCK IN SHARE MODE NOWAIT");
      return false;
    });
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() == store::kErLockWaitTimeout) return true;
    if (e.getErrorCode() == 1064 /* syntax: no NOWAIT on this server */) {
      no_lock_check_ = true;
      return std::nullopt;
    }
    throw;
  }
}

std::string MysqlGapStore::describe_open_transactions() {
  try {
    return guarded([&](store::Connection& c) {
      auto rs = c.query(
          "SELECT CONCAT('thread ', trx_mysql_thread_id, ' since ', trx_started, ', ', trx_rows_modified, ' rows, ', "
          "trx_state) FROM information_schema.INNODB_TRX WHERE trx_rows_modified > 0 "
          "AND trx_mysql_thread_id <> CONNECTION_ID() ORDER BY trx_started LIMIT 5");
      std::string out;
      while (rs->next()) out += (out.empty() ? "" : "; ") + std::string(rs->getString(1).c_str());
      return out;
    });
  } catch (const sql::SQLException& e) {
    return "(cannot list transactions: " + store::describe(e) + ")";
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
