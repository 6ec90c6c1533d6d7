#include "reader/store_reads.h"

#include <limits>

namespace even::reader {

namespace {

constexpr const char* kSelect = "SELECT global_seq, event_id, stream, stream_seq, event_type, created_at_us, metadata, "
                                "payload, payload_format FROM events";

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

std::size_t wire_size(const store::StoredEvent& e) {
  // RecordedEvent: 6 data words + 5 pointers, texts with NUL, data padded to words.
  return 88 + e.stream.size() + e.type.size() + e.metadata.size() + e.payload.size() + 16 + 4 * 8;
}

Page StoreReads::fill_page(const std::string& sql, const PageLimits& limits) {
  Page page;
  auto rs = conn_.query_streaming(sql);
  bool more = false;
  while (rs->next()) {
    if (page.events.size() >= limits.max_events) {
      more = true;
      break;
    }
    auto e = store::read_event_row(*rs);
    std::size_t size = wire_size(e);
    if (!page.events.empty() && page.bytes + size > limits.max_bytes) {
      more = true;
      break;
    }
    page.bytes += size;
    page.events.push_back(std::move(e));
  }
  rs.reset();  // drains what is left of the (bounded) result before the next statement
  page.end = !more;
  return page;
}

std::optional<Page> StoreReads::read_stream(const StreamPageQuery& q, const PageLimits& limits) {
  std::string sql = kSelect;
  sql += " FORCE INDEX (ux_events_stream_seq) WHERE stream = ";
  store::append_quoted(sql, q.stream);
  sql += q.backward ? " AND stream_seq <= " : " AND stream_seq >= ";
  sql += std::to_string(q.from.value());
  sql += q.backward ? " ORDER BY stream_seq DESC" : " ORDER BY stream_seq";
  sql += limit_clause(limits);
  Page page = fill_page(sql, limits);
  if (page.events.empty() && !stream_version(q.stream)) return std::nullopt;
  if (page.events.empty()) {
    page.next_stream_seq = q.from;
  } else {
    auto last = page.events.back().stream_seq.value();
    page.next_stream_seq = StreamSeq(q.backward ? last - 1 : last + 1);
  }
  if (q.backward && page.next_stream_seq.value() < 1) page.end = true;
  return page;
}

Page StoreReads::read_all(const AllPageQuery& q, const PageLimits& limits) {
  const std::string from = std::to_string(q.from.value());
  std::string sql;
  auto one = [&](const char* index, const char* column, const std::string& value, bool filter_types) {
    std::string s = kSelect;
    s += " FORCE INDEX (";
    s += index;
    s += ") WHERE ";
    s += column;
    s += " = ";
    store::append_quoted(s, value);
    s += " AND global_seq >= " + from;
    if (filter_types) {
      s += " AND event_type IN (";
      append_list(s, q.event_types);
      s += ")";
    }
    s += " ORDER BY global_seq" + limit_clause(limits);
    return s;
  };
  // A list of values: one index range per value, merged by global_seq (each part is bounded by
  // the page size, so the merge sorts at most values * (page + 1) rows).
  auto merged = [&](const char* index, const char* column, const std::vector<std::string>& values, bool filter_types) {
    if (values.size() == 1) return one(index, column, values[0], filter_types);
    std::string s = "SELECT * FROM (";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) s += " UNION ALL ";
      s += "(" + one(index, column, values[i], filter_types) + ")";
    }
    s += ") AS page ORDER BY global_seq" + limit_clause(limits);
    return s;
  };
  if (!q.categories.empty()) {
    sql = merged("ix_events_category", "category", q.categories, !q.event_types.empty());
  } else if (!q.event_types.empty()) {
    sql = merged("ix_events_type", "event_type", q.event_types, false);
  } else {
    sql = std::string(kSelect) + " FORCE INDEX (PRIMARY) WHERE global_seq >= " + from + " ORDER BY global_seq" +
          limit_clause(limits);
  }
  Page page = fill_page(sql, limits);
  page.next_global_seq = page.events.empty() ? q.from : page.events.back().global_seq.next();
  return page;
}

std::optional<StreamSeq> StoreReads::stream_version(const std::string& stream) {
  std::string sql = "SELECT MAX(stream_seq) FROM events FORCE INDEX (ux_events_stream_seq) WHERE stream = ";
  store::append_quoted(sql, stream);
  auto v = conn_.query_int(sql);
  if (!v) return std::nullopt;
  return StreamSeq(*v);
}

GlobalSeq StoreReads::head() {
  auto rs = conn_.query("SELECT MAX(global_seq) FROM events");
  if (!rs->next() || rs->isNull(1)) return GlobalSeq(0);
  return GlobalSeq(rs->getUInt64(1));
}

}  // namespace even::reader
