#include "even/common/store/scavenge.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "even/common/store/mysql.h"

namespace even::store {

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The highest stream_seq of `quoted` that its lifecycle hides (0: none), as the store says now.
// Everything at or below it is hidden: truncate_before (set above the last event by a delete),
// all but the last max_count, and the events below the first one younger than max_age_us.
std::int64_t hidden_up_to(Connection& c, const std::string& quoted) {
  auto rs = c.query("SELECT truncate_before, COALESCE(max_count, 0), COALESCE(max_age_us, 0) FROM streams WHERE stream = " +
                    quoted);
  if (!rs->next()) return 0;
  const std::int64_t truncate_before = rs->getInt64(1), max_count = rs->getInt64(2), max_age = rs->getInt64(3);
  rs.reset();
  std::int64_t hidden = std::max<std::int64_t>(0, truncate_before - 1);
  if (max_count > 0 || max_age > 0) {
    const std::int64_t version =
        c.query_int("SELECT MAX(stream_seq) FROM events WHERE stream = " + quoted).value_or(0);
    if (max_count > 0) hidden = std::max(hidden, version - max_count);
    if (max_age > 0) {
      auto first_young = c.query_int("SELECT MIN(stream_seq) FROM events WHERE stream = " + quoted +
                                     " AND created_at_us >= " + std::to_string(now_us() - max_age));
      hidden = std::max(hidden, first_young ? *first_young - 1 : version);
    }
  }
  return hidden;
}

}  // namespace

double ScavengeProgress::eta_seconds() const {
  const double rate = rows_per_second();
  if (rate <= 0 || rows_removed >= rows_to_remove) return 0;
  return double(rows_to_remove - rows_removed) / rate;
}

ScavengeProgress scavenge(const DbOptions& db, const ScavengeOptions& options) {
  if (options.batch_rows == 0) throw std::invalid_argument("scavenge batch size must be at least 1 row");
  auto conn = Connection::open(db);
  // No gap locks: a batch's DELETE must not hold up inserts beside the rows it removes.
  conn->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  const auto start = std::chrono::steady_clock::now();
  ScavengeProgress p;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  // The streams with a lifecycle setting, and what each one hides (for the ETA).
  std::vector<std::string> streams;
  {
    auto rs = conn->query(
        "SELECT stream FROM streams WHERE truncate_before > 1 OR max_count IS NOT NULL OR max_age_us IS NOT NULL "
        "ORDER BY stream");
    while (rs->next()) {
      auto s = rs->getString(1);
      streams.emplace_back(s.c_str(), s.length());
    }
  }
  p.streams_total = streams.size();
  for (const auto& name : streams) {
    std::string quoted;
    append_quoted(quoted, name);
    if (std::int64_t hidden = hidden_up_to(*conn, quoted); hidden > 0)
      p.rows_to_remove += static_cast<std::uint64_t>(
          conn->query_int("SELECT COUNT(*) FROM events WHERE stream = " + quoted +
                          " AND stream_seq <= " + std::to_string(hidden)).value_or(0));
  }

  auto last_report = std::chrono::steady_clock::now();
  auto report = [&](bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!options.progress) return;
    if (!force && now - last_report < std::chrono::milliseconds(options.progress_every_ms)) return;
    last_report = now;
    p.seconds = elapsed();
    options.progress(p);
  };
  for (const auto& name : streams) {
    std::string quoted;
    append_quoted(quoted, name);
    for (;;) {
      conn->begin();
      std::uint64_t removed = 0;
      try {
        const std::int64_t hidden = hidden_up_to(*conn, quoted);
        if (hidden > 0) {
          removed = conn->update("DELETE FROM events WHERE stream = " + quoted + " AND stream_seq <= " +
                                 std::to_string(hidden) + " ORDER BY stream_seq LIMIT " +
                                 std::to_string(options.batch_rows));
          // The version is MAX(stream_seq), or truncate_before - 1 once the last events are gone.
          conn->update("UPDATE streams SET truncate_before = GREATEST(truncate_before, " + std::to_string(hidden + 1) +
                       ") WHERE stream = " + quoted);
        }
        conn->commit();
      } catch (...) {
        conn->rollback();
        throw;
      }
      p.rows_removed += removed;
      report(false);
      if (removed < options.batch_rows) break;
      if (options.pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.pause_ms));
    }
    ++p.streams_done;
  }
  p.seconds = elapsed();
  p.rows_to_remove = std::max(p.rows_to_remove, p.rows_removed);
  if (options.progress) options.progress(p);
  return p;
}

}  // namespace even::store
