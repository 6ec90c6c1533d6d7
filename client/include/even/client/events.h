// Value types of the client API: events to append, recorded events as reads and subscriptions
// deliver them (the event model of even/common/event.h, named here too), append results, filters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "even/common/event.h"
#include "even/common/types.h"

namespace even::client {

// The vocabulary the client shares with the services (even/common/types.h, event.h), also under
// even::client so that an application can name everything of the client in one namespace:
// positions, event ids, expected versions, the event to append and the event as stored.
using even::EventId;
using even::ExpectedVersion;
using even::GlobalSeq;
using even::NewEvent;
using even::PayloadFormat;
using even::ProjectionSeq;
using even::RecordedEvent;
using even::StreamSeq;
using even::category_of;

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
