// Reading event rows: the column list and the row decoder, for every service that selects whole
// events from the events table. A row becomes the event model's RecordedEvent (even/common/event.h);
// the payload_format column holds PayloadFormat's values (0 binary, 1 json).
#pragma once

#include <cppconn/resultset.h>

#include "even/common/event.h"

namespace even::store {

// The columns read_event_row() expects, in order, for "SELECT <kEventColumns> FROM events ...".
inline constexpr const char* kEventColumns =
    "global_seq, event_id, stream, stream_seq, event_type, created_at_us, metadata, payload, payload_format";

// Decodes the current row of a result selected with kEventColumns.
RecordedEvent read_event_row(sql::ResultSet& rs);

// The payload_format column's value of a format, and back (an unknown value reads as binary).
inline int format_column(PayloadFormat f) { return f == PayloadFormat::json ? 1 : 0; }
inline PayloadFormat format_of_column(unsigned value) { return value == 1 ? PayloadFormat::json : PayloadFormat::binary; }

}  // namespace even::store
