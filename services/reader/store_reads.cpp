#include "reader/store_reads.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "even/common/store/events.h"
#include "even/common/wire.h"
#include "even/common/types.h"

namespace even::reader {

namespace {

const std::string kSelect = std::string("SELECT ") + store::kEventColumns + " FROM events";
// kEventColumns of events `e`, for read-all and projection pages (which may join `streams s` to
// hide what lifecycles hide).
const std::string kAliasedColumns =
    "e.global_seq, e.event_id, e.stream, e.stream_seq, e.event_type, e.created_at_us, e.metadata, e.payload, "
    "e.payload_format";
const std::string kSelectAliased = "SELECT " + kAliasedColumns + " FROM events e";
const std::string kJoinStreams = " LEFT JOIN streams s ON s.stream = e.stream";

// Whether row `e` (with its stream's row `s`, LEFT JOINed) is visible at `now`: at or above
// truncate_before (a delete sets it above the stream's last event), among the last max_count
// (the stream's last entry in ux_events_stream_seq, looked up only for streams with a limit), and
// not older than max_age_us.
std::string visible(std::int64_t now) {
  return " AND e.stream_seq >= COALESCE(s.truncate_before, 0) AND (s.max_age_us IS NULL OR e.created_at_us >= " +
         std::to_string(now) +
         " - s.max_age_us) AND (s.max_count IS NULL OR e.stream_seq > (SELECT MAX(x.stream_seq) FROM events x "
         "WHERE x.stream = e.stream) - s.max_count)";
}

void append_list(std::string& sql, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) sql += ", ";
    store::append_quoted(sql, values[i]);
  }
}

std::string limit_clause(const PageLimits& limits) {
  // One row more than a page holds tells whether the read reached the end.
  return " LIMIT " + std::to_string(limits.max_events + 1);
}

}  // namespace

std::size_t rows_to_ask(const PageLimits& limits, std::size_t row_bytes_hint) {
  // Nothing known yet: a modest first page, so that large events cannot make it drain thousands.
  if (row_bytes_hint == 0) return std::min<std::size_t>(limits.max_events, kFirstPageRows);
  return std::clamp<std::size_t>(limits.max_bytes / row_bytes_hint, 1, limits.max_events);
}

capnp::Orphan<capnp::List<schema::RecordedEvent>> Page::take_events() {
  if (events.get().size() != count) events.truncate(count);
  return std::move(events);
}

bool LifecycleCache::sync(store::Connection& conn) {
  if (!usable_) return false;
  if (conn.url() != url_) {
    *this = LifecycleCache();
    url_ = conn.url();
  }
  std::optional<std::int64_t> clock;
  try {
    clock = conn.query_int("SELECT seq FROM lifecycle_clock WHERE id = 1");
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() != 1146) throw;  // no such table: a store of schema 5 or older
    usable_ = false;
    return false;
  }
  const auto now = static_cast<std::uint64_t>(clock.value_or(0));
  if (loaded_ && now == seen_) return false;
  if (now < seen_) {  // another history (failover): everything again
    hides_.clear();
    loaded_ = false;
  }
  auto rs = conn.query(
      "SELECT stream, truncate_before, COALESCE(max_count, 0), COALESCE(max_age_us, 0) FROM streams "
      "FORCE INDEX (ix_streams_changed_seq) WHERE changed_seq > " + std::to_string(loaded_ ? seen_ : 0));
  while (rs->next()) {
    Hides h;
    h.truncate_before = rs->getInt64(2);
    h.max_count = rs->getInt64(3) > 0;
    h.max_age_us = rs->getInt64(4);
    std::string stream = rs->getString(1);
    if (h.truncate_before > 1 || h.max_count || h.max_age_us > 0) hides_[std::move(stream)] = h;
    else hides_.erase(stream);
  }
  seen_ = now;
  loaded_ = true;
  return true;
}

const LifecycleCache::Hides* LifecycleCache::find(std::string_view stream) const {
  auto it = hides_.find(stream);
  return it == hides_.end() ? nullptr : &it->second;
}

Page StoreReads::fill_page(const std::string& sql, const PageLimits& limits, capnp::Orphanage orphanage,
                           std::vector<std::int64_t>* projection_seqs, const LifecycleCache* filter, std::int64_t now,
                           Page reuse) {
  Page page;
  if (reuse.count == 0 && reuse.events != nullptr) page.events = std::move(reuse.events);  // nothing written in it
  else page.events = orphanage.newOrphan<capnp::List<schema::RecordedEvent>>(static_cast<unsigned>(limits.max_events));
  auto list = page.events.get();
  auto rs = conn_.query_streaming(sql);
  bool more = false;
  // Columns as in store::kEventColumns; blobs are copied once, from the row into the message (the
  // one encoder of events that skips the event model: a page is built straight from the rows).
  std::size_t rows = 0;  // read from the result, shown or hidden
  // Where a row is, for the page that follows: its global_seq, or its projection sequence.
  auto position = [&] { return projection_seqs ? rs->getUInt64(10) : rs->getUInt64(1); };
  while (rs->next()) {
    if (rows++ == limits.max_events) {  // the one row more than asked for
      more = true;
      break;
    }
    const auto stream = rs->getString(3);
    if (filter && !filter->empty()) {
      if (const auto* h = filter->find(std::string_view(stream.c_str(), stream.length()))) {
        if (h->max_count) {  // decided by the joined query: end the page before this row
          page.needs_joined = page.count == 0;
          more = true;
          break;
        }
        const std::int64_t seq = rs->getInt64(4);
        if (seq < h->truncate_before || (h->max_age_us > 0 && rs->getInt64(6) < now - h->max_age_us)) {
          page.last_scanned = position();
          continue;
        }
      }
    }
    const auto id = rs->getString(2), type = rs->getString(5), metadata = rs->getString(7), payload = rs->getString(8);
    // RecordedEvent: 6 data words + 5 pointers; blobs padded to words.
    const std::size_t size = 88 + 16 + stream.length() + type.length() + metadata.length() + payload.length() + 32;
    if (page.count > 0 && page.bytes + size > limits.max_bytes) {
      more = true;
      break;
    }
    auto bytes = [](const sql::SQLString& s) {
      return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.c_str()), s.length());
    };
    auto out = list[page.count++];
    out.setGlobalSeq(rs->getUInt64(1));
    out.setEventId(bytes(id));
    out.setStream(capnp::Text::Reader(stream.c_str(), stream.length()));
    out.setStreamSeq(rs->getInt64(4));
    out.setType(capnp::Text::Reader(type.c_str(), type.length()));
    out.setCreatedAtUs(rs->getInt64(6));
    out.setMetadata(bytes(metadata));
    out.setPayload(bytes(payload));
    out.setPayloadFormat(wire::to_schema(store::format_of_column(rs->getUInt(9))));
    if (projection_seqs) projection_seqs->push_back(rs->getInt64(10));
    page.bytes += size;
    page.last_scanned = position();
  }
  rs.reset();  // drains what is left of the (bounded) result before the next statement
  page.end = !more;
  page.rows_scanned = std::min(rows, limits.max_events);
  return page;
}

std::optional<Page> StoreReads::read_stream(const StreamPageQuery& q, const PageLimits& limits,
                                            capnp::Orphanage orphanage) {
  const StreamLifecycle life = stream_info(q.stream);
  if (!life.exists()) return std::nullopt;
  const std::int64_t first = life.first_visible();
  std::string sql = kSelect;
  sql += " FORCE INDEX (ux_events_stream_seq) WHERE stream = ";
  store::append_quoted(sql, q.stream);
  sql += q.backward ? " AND stream_seq <= " : " AND stream_seq >= ";
  sql += std::to_string(q.backward ? q.from.value() : std::max(q.from.value(), first));
  if (q.backward) sql += " AND stream_seq >= " + std::to_string(first);
  if (life.max_age_us > 0) sql += " AND created_at_us >= " + std::to_string(unix_now_us() - life.max_age_us);
  sql += q.backward ? " ORDER BY stream_seq DESC" : " ORDER BY stream_seq";
  sql += limit_clause(limits);
  Page page = fill_page(sql, limits, orphanage);
  if (page.count == 0) {
    page.next_stream_seq = q.from;
  } else {
    auto last = page.events.get()[page.count - 1].getStreamSeq();
    page.next_stream_seq = StreamSeq(q.backward ? last - 1 : last + 1);
  }
  if (q.backward && page.next_stream_seq.value() < first) page.end = true;
  return page;
}

Page StoreReads::read_all(const AllPageQuery& q, const PageLimits& limits, capnp::Orphanage orphanage) {
  // (saturating: a client may ask from any position; global_seq is a BIGINT UNSIGNED)
  constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
  const std::uint64_t window_end = std::min(q.from.value(), kMax) + static_cast<std::uint64_t>(kScanWindow);
  const std::int64_t now = unix_now_us();
  // The page's SQL from `from` on: joined with `streams` (lifecycles decided by the store, per
  // row), or from `events` alone (the caller filters with the LifecycleCache).
  auto page_sql = [&](std::uint64_t from_seq, bool joined) {
    const std::string from = std::to_string(from_seq);
    // The joined query hides in SQL, and bounds what it may scan for that by the window; the
    // cache's rows are all returned, so LIMIT bounds the scan.
    const std::string hide = joined ? visible(now) + " AND e.global_seq < " + std::to_string(window_end) : std::string();
    auto one = [&](const char* index, const char* column, const std::string& value, bool filter_types) {
      std::string s = kSelectAliased;
      s += " FORCE INDEX (";
      s += index;
      s += ")";
      if (joined) s += kJoinStreams;
      s += " WHERE e.";
      s += column;
      s += " = ";
      store::append_quoted(s, value);
      s += " AND e.global_seq >= " + from + hide;
      if (filter_types) {
        s += " AND e.event_type IN (";
        append_list(s, q.event_types);
        s += ")";
      }
      s += " ORDER BY e.global_seq" + limit_clause(limits);
      return s;
    };
    // A list of values: one index range per value, merged by global_seq (each part is bounded by
    // the page size, so the merge sorts at most values * (page + 1) rows).
    auto merged = [&](const char* index, const char* column, const std::vector<std::string>& values,
                      bool filter_types) {
      if (values.size() == 1) return one(index, column, values[0], filter_types);
      std::string s = "SELECT * FROM (";
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) s += " UNION ALL ";
        s += "(" + one(index, column, values[i], filter_types) + ")";
      }
      s += ") AS page ORDER BY global_seq" + limit_clause(limits);
      return s;
    };
    if (!q.categories.empty()) return merged("ix_events_category", "category", q.categories, !q.event_types.empty());
    if (!q.event_types.empty()) return merged("ix_events_type", "event_type", q.event_types, false);
    return kSelectAliased + " FORCE INDEX (PRIMARY)" + (joined ? kJoinStreams : std::string()) + " WHERE e.global_seq >= " +
           from + hide + " ORDER BY e.global_seq" + limit_clause(limits);
  };
  bool joined = false;
  Page page = read_hiding(page_sql, q.from.value(), limits, orphanage, now, nullptr, joined);
  if (page.count > 0 || page.last_scanned > 0)
    page.next_global_seq = GlobalSeq(std::max(page.last_scanned + 1, q.from.value()));
  else
    page.next_global_seq = q.from;
  if (joined && page.end && head().value() >= window_end) {  // the window ended before the head: more to scan
    page.end = false;
    if (page.count == 0) page.next_global_seq = GlobalSeq(window_end);
  }
  return page;
}

Page StoreReads::read_hiding(const PageSql& sql, std::uint64_t from, const PageLimits& limits,
                             capnp::Orphanage orphanage, std::int64_t now, std::vector<std::int64_t>* projection_seqs,
                             bool& joined) {
  joined = false;
  if (hides_ && !hides_->loaded()) hides_->sync(conn_);
  if (hides_ && hides_->usable()) {
    Page page;
    std::size_t scanned = 0;
    for (std::uint64_t at = from;;) {
      page = fill_page(sql(at, false), limits, orphanage, projection_seqs, hides_, now, std::move(page));
      scanned += page.rows_scanned;
      // Nothing shown but rows hidden, and more to read: go on after the last row scanned, up to
      // kScanWindow rows in all (then an empty page with end=false says where to go on).
      if (page.count > 0 || page.end || page.needs_joined || page.last_scanned < at ||
          scanned >= static_cast<std::size_t>(kScanWindow))
        break;
      at = page.last_scanned + 1;
    }
    // A page that starts at a row of a max-count stream is the joined query's; the cache is
    // exact when the clock has not moved (else the page is read again, joined: rare).
    if (!page.needs_joined && !hides_->sync(conn_)) return page;
    if (projection_seqs) projection_seqs->clear();
    joined = true;
    return fill_page(sql(from, true), limits, orphanage, projection_seqs, nullptr, 0, std::move(page));
  }
  joined = true;
  return fill_page(sql(from, true), limits, orphanage, projection_seqs);
}

std::optional<Page> StoreReads::read_projection(const ProjectionPageQuery& q, const PageLimits& limits,
                                                capnp::Orphanage orphanage) {
  std::string name;
  store::append_quoted(name, q.name);
  const std::int64_t window_end =  // (saturating: the projection sequence is a BIGINT)
      q.from.value() > std::numeric_limits<std::int64_t>::max() - kScanWindow ? std::numeric_limits<std::int64_t>::max()
                                                                              : q.from.value() + kScanWindow;
  const std::int64_t now = unix_now_us();
  auto page_sql = [&](std::uint64_t from_seq, bool joined) {
    std::string s =
        "SELECT " + kAliasedColumns + ", p.seq FROM projection_streams p JOIN events e ON e.global_seq = p.global_seq";
    if (joined) s += kJoinStreams;
    s += " WHERE p.name = " + name + " AND p.seq >= " + std::to_string(from_seq);
    if (joined) s += " AND p.seq < " + std::to_string(window_end) + visible(now);
    return s + " ORDER BY p.seq" + limit_clause(limits);
  };
  std::vector<std::int64_t> seqs;
  bool joined = false;
  Page page = read_hiding(page_sql, static_cast<std::uint64_t>(q.from.value()), limits, orphanage, now, &seqs, joined);
  if (page.count == 0 &&
      !conn_.query_int("SELECT 1 FROM projection_stream_checkpoints WHERE projection = " + name))
    return std::nullopt;
  // The index has no holes, but the events behind it may be hidden or scavenged: the page's
  // projection sequences are in projectionSeqs when they are not from, from + 1, ...
  page.next_stream_seq =
      StreamSeq(std::max<std::int64_t>(static_cast<std::int64_t>(page.last_scanned) + 1, q.from.value()));
  if (joined && page.end &&
      conn_.query_int("SELECT MAX(seq) FROM projection_streams WHERE name = " + name).value_or(0) >=
          window_end) {  // the window ended before the last entry
    page.end = false;
    if (page.count == 0) page.next_stream_seq = StreamSeq(window_end);
  }
  seqs.resize(page.count);
  page.projection_seqs = std::move(seqs);
  return page;
}

StreamLifecycle StoreReads::stream_info(const std::string& stream) {
  std::string name;
  store::append_quoted(name, stream);
  auto rs = conn_.query(
      "SELECT (SELECT MAX(stream_seq) FROM events FORCE INDEX (ux_events_stream_seq) WHERE stream = " + name +
      "), s.deleted, s.tombstoned, s.truncate_before, s.max_count, s.max_age_us FROM (SELECT 1) AS one LEFT JOIN "
      "streams s ON s.stream = " + name);
  StreamLifecycle life;
  if (!rs->next()) return life;
  auto value = [&](int column) { return rs->isNull(column) ? 0 : rs->getInt64(column); };
  life.deleted = value(2) != 0;
  life.tombstoned = value(3) != 0;
  life.truncate_before = value(4);
  life.max_count = value(5);
  life.max_age_us = value(6);
  // A scavenge may have removed the last events: truncate_before - 1 is a floor then.
  life.version = std::max(value(1), life.truncate_before - 1);
  return life;
}

GlobalSeq StoreReads::head() {
  auto rs = conn_.query("SELECT MAX(global_seq) FROM events");
  if (!rs->next() || rs->isNull(1)) return GlobalSeq(0);
  return GlobalSeq(rs->getUInt64(1));
}

}  // namespace even::reader
