// Bulk loading for the cases that measure reads and rebuilds of a store that already holds events.
#include <iomanip>
#include <iostream>

#include "bench/bench.h"
#include "even/common/store/mysql.h"
#include "even/common/types.h"

namespace even::bench {

double bulk_load(const config::DbOptions& db, std::uint64_t count, const std::function<void(std::uint64_t, BulkRow&)>& make) {
  constexpr std::uint64_t kRowsPerInsert = 2000;
  auto conn = store::Connection::open(db);
  const std::int64_t now_us = unix_now_us();
  const auto start = Clock::now();
  auto last_report = start;
  BulkRow row;
  std::string sql, streams;
  for (std::uint64_t done = 0; done < count;) {
    sql = "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
          "payload_format) VALUES ";
    streams.clear();
    for (std::uint64_t k = 0; k < kRowsPerInsert && done < count; ++k, ++done) {
      make(done, row);
      const EventId id = EventId::random();  // time-ordered like the client library's
      if (k) sql += ',';
      sql += '(';
      store::append_hex(sql, id.data(), EventId::kSize);
      sql += ',';
      store::append_quoted(sql, row.stream);
      sql += ',' + std::to_string(row.stream_seq) + ',';
      store::append_quoted(sql, category_of(row.stream));
      sql += ',';
      store::append_quoted(sql, row.type);
      sql += ',' + std::to_string(now_us) + ",'',";
      store::append_quoted(sql, row.payload);
      sql += ",1)";
      if (row.stream_seq == 1) {  // as the writer does: the streams row comes with the first event
        streams += streams.empty() ? "INSERT INTO streams (stream, updated_at_us) VALUES (" : ",(";
        store::append_quoted(streams, row.stream);
        streams += ",0)";
      }
    }
    conn->begin();
    conn->execute(sql);
    if (!streams.empty()) conn->execute(streams);
    conn->commit();
    if (seconds_since(last_report) >= 2 || done == count) {
      const double secs = seconds_since(start), rate = static_cast<double>(done) / secs;
      std::cerr << "[bench] loaded " << done << "/" << count << " events, " << std::fixed << std::setprecision(0)
                << rate << " events/s, " << secs << " s, ETA " << static_cast<double>(count - done) / rate << " s\n";
      last_report = Clock::now();
    }
  }
  return seconds_since(start);
}

}  // namespace even::bench
