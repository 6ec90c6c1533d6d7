#include "even/common/store/events.h"

#include <istream>
#include <iterator>
#include <memory>

#include "even/common/wire.h"

namespace even::store {

namespace {
std::string read_blob(sql::ResultSet& rs, int col) {
  // getString() copies the column bytes as they are, embedded NULs included.
  auto s = rs.getString(col);
  return std::string(s.c_str(), s.length());
}
}  // namespace

StoredEvent read_event_row(sql::ResultSet& rs) {
  StoredEvent e;
  e.global_seq = GlobalSeq(rs.getUInt64(1));
  auto id = read_blob(rs, 2);
  if (auto parsed = EventId::from_bytes(id.data(), id.size())) e.event_id = *parsed;
  e.stream = read_blob(rs, 3);
  e.stream_seq = StreamSeq(rs.getInt64(4));
  e.type = read_blob(rs, 5);
  e.created_at_us = rs.getInt64(6);
  e.metadata = read_blob(rs, 7);
  e.payload = read_blob(rs, 8);
  e.payload_format = rs.getUInt(9) == 1 ? schema::PayloadFormat::JSON : schema::PayloadFormat::BINARY;
  return e;
}

void to_wire(const StoredEvent& e, schema::RecordedEvent::Builder out) {
  out.setGlobalSeq(e.global_seq.value());
  out.setEventId(kj::arrayPtr(e.event_id.data(), EventId::kSize));
  out.setStream(wire::as_text(e.stream));
  out.setStreamSeq(e.stream_seq.value());
  out.setType(wire::as_text(e.type));
  out.setCreatedAtUs(e.created_at_us);
  out.setMetadata(kj::arrayPtr(reinterpret_cast<const kj::byte*>(e.metadata.data()), e.metadata.size()));
  out.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(e.payload.data()), e.payload.size()));
  out.setPayloadFormat(e.payload_format);
}

StoredEvent from_wire(schema::RecordedEvent::Reader in) {
  StoredEvent e;
  e.global_seq = GlobalSeq(in.getGlobalSeq());
  auto id = in.getEventId();
  if (auto parsed = EventId::from_bytes(id.begin(), id.size())) e.event_id = *parsed;
  e.stream = wire::text_string(in.getStream());
  e.stream_seq = StreamSeq(in.getStreamSeq());
  e.type = wire::text_string(in.getType());
  e.created_at_us = in.getCreatedAtUs();
  auto md = in.getMetadata();
  e.metadata.assign(reinterpret_cast<const char*>(md.begin()), md.size());
  auto p = in.getPayload();
  e.payload.assign(reinterpret_cast<const char*>(p.begin()), p.size());
  e.payload_format = in.getPayloadFormat();
  return e;
}

}  // namespace even::store
