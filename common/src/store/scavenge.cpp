#include "even/common/store/scavenge.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include "even/common/store/mysql.h"
#include "even/common/types.h"

namespace even::store {

namespace {

// A stream's lifecycle settings (its `streams` row).
struct Settings {
  std::int64_t truncate_before = 0, max_count = 0, max_age_us = 0;
  bool operator==(const Settings&) const = default;
};

// The stream's settings; with `for_update`, its row stays locked until the transaction ends, so a
// lifecycle change (the writer updates the row) waits for the batch (std::nullopt: no row).
std::optional<Settings> settings_of(Connection& c, const std::string& quoted, bool for_update) {
  auto rs = c.query("SELECT truncate_before, COALESCE(max_count, 0), COALESCE(max_age_us, 0) FROM streams WHERE stream = " +
                    quoted + (for_update ? " FOR UPDATE" : ""));
  if (!rs->next()) return std::nullopt;
  return Settings{rs->getInt64(1), rs->getInt64(2), rs->getInt64(3)};
}

// The highest stream_seq of `quoted` that `s` hides (0: none), as the store says now. Everything
// at or below it is hidden: truncate_before (set above the last event by a delete), all but the
// last max_count, and the events below the first one younger than max_age_us (found by walking
// the stream in stream_seq order from its start: the cost is the hidden range, not the stream).
std::int64_t hidden_up_to(Connection& c, const std::string& quoted, const Settings& s) {
  std::int64_t hidden = std::max<std::int64_t>(0, s.truncate_before - 1);
  if (s.max_count > 0 || s.max_age_us > 0) {
    const std::int64_t version =
        c.query_int("SELECT MAX(stream_seq) FROM events WHERE stream = " + quoted).value_or(0);
    if (s.max_count > 0) hidden = std::max(hidden, version - s.max_count);
    if (s.max_age_us > 0) {
      auto first_young = c.query_int(
          "SELECT stream_seq FROM events FORCE INDEX (ux_events_stream_seq) WHERE stream = " + quoted +
          " AND created_at_us >= " + std::to_string(unix_now_us() - s.max_age_us) + " ORDER BY stream_seq LIMIT 1");
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
  if (options.min_age_us < 0) throw std::invalid_argument("scavenge minimum age must be >= 0");
  auto conn = Connection::open(db);
  // No gap locks: a batch's DELETE must not hold up inserts beside the rows it removes.
  conn->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  const auto start = std::chrono::steady_clock::now();
  ScavengeProgress p;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  // Only rows older than this are removed: the dispatcher may not have verified a younger event
  // yet, nor a client's resend after a lost reply found its ids.
  const std::int64_t cutoff_us = unix_now_us() - options.min_age_us;
  const std::string young = " AND created_at_us < " + std::to_string(cutoff_us);

  // The streams with a lifecycle setting, what each one hides, worked out once: appends that go
  // on during the scavenge (a max-count or max-age stream hides more with each) wait for the next
  // one, so each stream's loop ends.
  struct Work {
    std::string quoted;
    Settings settings;
    std::int64_t hidden = 0;
  };
  std::vector<Work> work;
  {
    std::vector<std::string> streams;
    auto rs = conn->query(
        "SELECT stream FROM streams WHERE truncate_before > 1 OR max_count IS NOT NULL OR max_age_us IS NOT NULL "
        "ORDER BY stream");
    while (rs->next()) {
      auto s = rs->getString(1);
      streams.emplace_back(s.c_str(), s.length());
    }
    rs.reset();
    for (const auto& name : streams) {
      Work w;
      append_quoted(w.quoted, name);
      auto settings = settings_of(*conn, w.quoted, false);
      if (!settings) continue;
      w.settings = *settings;
      w.hidden = hidden_up_to(*conn, w.quoted, w.settings);
      if (w.hidden > 0)
        p.rows_to_remove += static_cast<std::uint64_t>(
            conn->query_int("SELECT COUNT(*) FROM events WHERE stream = " + w.quoted +
                            " AND stream_seq <= " + std::to_string(w.hidden) + young).value_or(0));
      work.push_back(std::move(w));
    }
  }
  p.streams_total = work.size();

  auto last_report = std::chrono::steady_clock::now();
  auto report = [&](bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!options.progress) return;
    if (!force && now - last_report < std::chrono::milliseconds(options.progress_every_ms)) return;
    last_report = now;
    p.seconds = elapsed();
    options.progress(p);
  };
  for (auto& w : work) {
    std::int64_t after = 0;  // the stream_seq the last batch removed up to
    while (w.hidden > after) {
      conn->begin();
      std::uint64_t removed = 0;
      bool more = false;
      try {
        // The row locked first: a lifecycle change committed since the bound was worked out is
        // seen (a larger max-count or max-age lowers the bound), and one not yet committed waits
        // for this batch. The writer never locks the old rows removed here (it inserts new ones
        // and then updates the row), so the two cannot deadlock.
        auto now = settings_of(*conn, w.quoted, true);
        if (!now) {
          w.hidden = 0;
        } else if (!(*now == w.settings)) {
          w.hidden = std::min(w.hidden, hidden_up_to(*conn, w.quoted, *now));
          w.settings = *now;
        }
        std::vector<std::int64_t> seqs;
        if (w.hidden > after) {
          auto rs = conn->query("SELECT stream_seq FROM events FORCE INDEX (ux_events_stream_seq) WHERE stream = " +
                                w.quoted + " AND stream_seq > " + std::to_string(after) + " AND stream_seq <= " +
                                std::to_string(w.hidden) + young + " ORDER BY stream_seq LIMIT " +
                                std::to_string(options.batch_rows));
          while (rs->next()) seqs.push_back(rs->getInt64(1));
        }
        if (!seqs.empty()) {
          std::string in;
          for (auto q : seqs) {
            if (!in.empty()) in += ',';
            in += std::to_string(q);
          }
          removed = conn->update("DELETE FROM events WHERE stream = " + w.quoted + " AND stream_seq IN (" + in + ")" +
                                 young);
          // Raised above what was removed, no further: the version is MAX(stream_seq), or
          // truncate_before - 1 once the last events are gone.
          conn->update("UPDATE streams SET truncate_before = GREATEST(truncate_before, " +
                       std::to_string(seqs.back() + 1) + ") WHERE stream = " + w.quoted);
          after = seqs.back();
          more = seqs.size() == options.batch_rows;
        }
        conn->commit();
      } catch (...) {
        conn->rollback();
        throw;
      }
      p.rows_removed += removed;
      report(false);
      if (!more) break;
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
