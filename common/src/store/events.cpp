#include "even/common/store/events.h"

#include <utility>

namespace even::store {

namespace {
// The column's bytes as they are, embedded NULs included. getString() returns its own copy of
// them; its string is taken over (a move) instead of being copied a second time.
std::string read_blob(sql::ResultSet& rs, int col) {
  sql::SQLString s = rs.getString(col);
  return std::move(*s.operator->());  // SQLString's non-const access to its std::string
}
}  // namespace

RecordedEvent read_event_row(sql::ResultSet& rs) {
  RecordedEvent e;
  e.global_seq = GlobalSeq(rs.getUInt64(1));
  auto id = read_blob(rs, 2);
  e.id = EventId::from_bytes(id.data(), id.size()).value_or(EventId());
  e.stream = read_blob(rs, 3);
  e.stream_seq = StreamSeq(rs.getInt64(4));
  e.type = read_blob(rs, 5);
  e.created_at_us = rs.getInt64(6);
  e.metadata = read_blob(rs, 7);
  e.payload = read_blob(rs, 8);
  e.format = format_of_column(rs.getUInt(9));
  return e;
}

}  // namespace even::store
