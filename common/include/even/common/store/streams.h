// A stream's lifecycle as the store holds it (`streams` row and the stream's last event), for the
// writer (which decides appends and lifecycle changes with it) and the reader (which hides what
// it hides, and answers streamInfo). services/writer/README.md, "Stream lifecycle".
#pragma once

#include <algorithm>
#include <cstdint>

namespace even::store {

struct StreamLifecycle {
  std::int64_t version = 0;          // the last stream_seq ever written (0: none)
  bool deleted = false;              // soft-deleted: reads as not found until appended to again
  bool tombstoned = false;           // hard-deleted: never written again
  std::int64_t truncate_before = 0;  // stream_seq below it hidden (0: none)
  std::int64_t max_count = 0;        // 0: no limit
  std::int64_t max_age_us = 0;       // 0: no limit

  bool exists() const { return version > 0 && !deleted && !tombstoned; }
  // The version an expected-version check compares with: 0 for a stream that does not exist.
  std::int64_t current() const { return exists() ? version : 0; }
  // The first stream_seq a read may show (truncate_before and max_count; max_age is by time).
  std::int64_t first_visible() const {
    std::int64_t first = std::max<std::int64_t>(1, truncate_before);
    if (max_count > 0) first = std::max(first, version - max_count + 1);
    return first;
  }
};

// Sets the six fields every lifecycle message of the schemas carries (the writer's
// WriterReply.lifecycle, the reader's ReaderReply.streamInfo) on its Cap'n Proto builder.
template <typename Builder>
void set_lifecycle_fields(Builder b, const StreamLifecycle& s) {
  b.setVersion(s.version);
  b.setDeleted(s.deleted);
  b.setTombstoned(s.tombstoned);
  b.setTruncateBefore(s.truncate_before);
  b.setMaxCount(s.max_count);
  b.setMaxAgeUs(s.max_age_us);
}

}  // namespace even::store
