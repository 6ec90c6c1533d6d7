// The event model of Even: an event as an application proposes it (NewEvent) and as the store
// holds it (RecordedEvent). One type each, used alike by the client library, the services (the
// writer's appends, the dispatcher's feed, the reader's pages) and the store layer; wire.h
// encodes and decodes them (wire::encode / wire::decode), store/events.h reads them from rows.
//
// Standard library only: the client's public API exposes these types.
#pragma once

#include <cstdint>
#include <string>

#include "even/common/types.h"

namespace even {

// What the payload holds, as the appending client declares it (schemas/README.md, "Payload
// formats"). The values are those of the store's payload_format column and of the wire's enum.
enum class PayloadFormat : std::uint8_t { binary = 0, json = 1 };

// An event to append. The id is made here (a random UUID) unless the caller sets one: keep it
// when retrying, so that the retry is recognised as the same append.
struct NewEvent {
  EventId id = EventId::random();
  std::string type;
  std::string payload;
  std::string metadata;
  PayloadFormat format = PayloadFormat::json;
};

// An event as stored: what reads, subscriptions and projections deliver.
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

}  // namespace even
