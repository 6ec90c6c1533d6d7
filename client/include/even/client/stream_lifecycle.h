// Stream lifecycle as the client sees it: Client::delete_stream, truncate_stream,
// set_stream_metadata (answered by even-writer) and stream_info (even-reader).
// services/writer/README.md, "Stream lifecycle", says what each hides and when.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "even/common/types.h"

namespace even::client {

// The limits a stream keeps on what reads show. Unset: no limit.
struct StreamMetadata {
  std::optional<std::int64_t> max_count;          // only the last max_count events (>= 1)
  std::optional<std::chrono::microseconds> max_age;  // only events younger than this (> 0)
  bool operator==(const StreamMetadata&) const = default;
};

// A stream's state after a lifecycle change, or as the reader reports it.
struct StreamState {
  bool exists = false;      // it has a visible version: written, and not deleted
  StreamSeq version;        // its last stream sequence ever written (0: never written); kept
                            // through a soft delete (the next append follows it)
  bool deleted = false;     // soft-deleted: reads as not found until an append starts it again
  bool tombstoned = false;  // hard-deleted: can never be written again
  StreamSeq truncate_before;  // events below this sequence are hidden (0: none)
  StreamMetadata metadata;
};

}  // namespace even::client
