// Reading event rows: the column list, the row decoder and the conversion to the wire type.
// Shared by every service that selects from the events table (reader, dispatcher, projector).
#pragma once

#include <cppconn/resultset.h>

#include <cstdint>
#include <string>

#include "even/common/types.h"
#include "even/schemas/common.capnp.h"

namespace even::store {

struct StoredEvent {
  GlobalSeq global_seq;
  EventId event_id;
  std::string stream;
  StreamSeq stream_seq;
  std::string type;
  std::int64_t created_at_us = 0;
  std::string metadata;
  std::string payload;
  schema::PayloadFormat payload_format = schema::PayloadFormat::BINARY;
};

// The columns read_event_row() expects, in order, for "SELECT <kEventColumns> FROM events ...".
inline constexpr const char* kEventColumns =
    "global_seq, event_id, stream, stream_seq, event_type, created_at_us, metadata, payload, payload_format";

// Decodes the current row of a result selected with kEventColumns.
StoredEvent read_event_row(sql::ResultSet& rs);

// Fills a wire RecordedEvent from a stored one.
void to_wire(const StoredEvent& e, schema::RecordedEvent::Builder out);
// And back (for clients and subscribers).
StoredEvent from_wire(schema::RecordedEvent::Reader in);

}  // namespace even::store
