// Value types of the client API: events to append, recorded events as reads and subscriptions
// deliver them, and append results.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "even/common/types.h"

namespace even::client {

enum class PayloadFormat { binary, json };

// An event to append. The id is made here (a random UUID) unless the caller sets one: keep it
// when retrying, so that the retry is recognised as the same append.
struct NewEvent {
  EventId id = EventId::random();
  std::string type;
  std::string payload;
  std::string metadata;
  PayloadFormat format = PayloadFormat::json;
};

// An event as stored.
struct RecordedEvent {
  GlobalSeq global_seq;
  EventId id;
  std::string stream;
  StreamSeq stream_seq;
  std::string type;
  std::int64_t created_at_us = 0;  // commit time, microseconds since the Unix epoch
  std::string metadata;
  std::string payload;
  PayloadFormat format = PayloadFormat::json;
};

struct AppendResult {
  StreamSeq first_stream_seq;
  StreamSeq last_stream_seq;  // the stream's version after the append
  GlobalSeq first_global_seq;
  GlobalSeq last_global_seq;
  bool idempotent = false;    // the events were already stored (a retry); positions are the original ones
};

enum class Direction { forward, backward };

// Which events a read-all or a subscription wants. Empty lists mean "all". An event matches when
// its category is in `categories` (if any) and its type is in `event_types` (if any).
struct Filter {
  std::vector<std::string> categories;
  std::vector<std::string> event_types;
  bool empty() const { return categories.empty() && event_types.empty(); }
};

}  // namespace even::client
