# The reader's request/reply protocol: client DEALER -> even-reader ROUTER.
#
# Pull-based paging: every request is answered by exactly one reply, and a read of many events is
# a sequence of page requests. Each Page says where the next page starts (`nextStreamSeq` /
# `nextGlobalSeq`) and whether the read reached the end of what is stored (`end`). The reader
# keeps no state between pages, so memory is bounded on both sides (one page in the reader while
# it is built, at most two in the client, which asks for the next page while the application
# consumes the current one) and a vanished client costs nothing. Every request is idempotent: a
# client may resend it (same requestId) after a timeout or a reader restart.
#
# A page holds at most min(maxCount, the reader's --reader.page-max-events) events and stops before the
# event that would take it above --reader.page-max-bytes (it always holds at least one event, so one
# event larger than the byte limit still gets through alone). See schemas/README.md, "Reader".
@0xaefeb4458c3cbcef;

$import "/capnp/c++.capnp".namespace("even::schema");
using Common = import "common.capnp";

enum Direction {
  forward @0;
  backward @1;
}

# Events of one stream, by stream sequence, via the (stream, stream_seq) unique index.
# A stream with no events at all gets notFound; reading past the end of a stream gets an empty
# page with end = true.
struct ReadStream {
  stream @0 :Text;
  from @1 :Int64;          # forward: first stream_seq >= from; backward: first stream_seq <= from
                           # (backward from the end: pass the largest Int64). Negative: badRange.
  direction @2 :Direction;
  maxCount @3 :UInt32;     # at most this many in this page (0: the reader's page size)
}

# All events from a global position on, in global order, optionally filtered. An event matches
# when its category is one of `categories` (if any) and its type is one of `eventTypes` (if any).
# Served from ix_events_category, ix_events_type or the primary key, never a table scan.
struct ReadAll {
  from @0 :UInt64;         # inclusive: the first event returned has globalSeq >= from
  categories @1 :List(Text);
  eventTypes @2 :List(Text);
  maxCount @3 :UInt32;     # at most this many in this page (0: the reader's page size)
}

# A projection stream: the persisted index of a projection's matching events, numbered 1, 2, 3 ...
# without holes. Pages return its events in projection order; the i-th event of a page has
# projection sequence `from + i`; nextStreamSeq is the sequence after the page. A name no projector
# has indexed gets notFound (services/projector/README.md, "Projection streams").
struct ReadProjection {
  name @0 :Text;
  from @1 :Int64;          # first projection sequence returned (>= 1)
  maxCount @2 :UInt32;
}

struct StreamInfoRequest {
  stream @0 :Text;
}

struct ReaderRequest {
  protocolVersion @0 :UInt16;
  requestId @1 :UInt64;
  union {
    readStream @2 :ReadStream;
    readAll @3 :ReadAll;
    readProjection @4 :ReadProjection;
    streamInfo @5 :StreamInfoRequest;
    head @6 :Void;
  }
  # Read-your-writes (issue 18): the answer must include every event up to this global position
  # (the client library sends the largest position its appends got; 0: no demand). A reader on a
  # replica that has not applied it yet waits for it, bounded (--reader.replica-wait-ms), then
  # reads from the primary.
  minGlobalSeq @7 :UInt64;
}

struct Page {
  events @0 :List(Common.RecordedEvent);
  # True when the read reached the end of what was stored when the page was read: no event after
  # this page matched. False means "ask again from next*" (the page was cut by count or bytes).
  end @1 :Bool;
  nextStreamSeq @2 :Int64;   # readStream / readProjection: `from` of the following page
  nextGlobalSeq @3 :UInt64;  # readAll: `from` of the following page
  head @4 :UInt64;           # readAll pages with end = true: highest globalSeq stored, read just
                             # after the page (0 otherwise, or when the store is empty)
  projectionSeqs @5 :List(Int64);  # readProjection: the projection sequence of each event (they skip
                                   # the events a stream lifecycle hides or a scavenge removed);
                                   # empty from older readers: then from, from + 1, ...
}

struct StreamInfo {
  exists @0 :Bool;
  version @1 :Int64;         # the stream sequence of its last event; 0 when it never had one (a
                             # soft-deleted stream keeps its version: its next event follows it)
  deleted @2 :Bool;          # soft-deleted (exists is false) until an append starts it again
  tombstoned @3 :Bool;       # hard-deleted: never written again (exists is false)
  truncateBefore @4 :Int64;  # events below this stream sequence are hidden (0: none)
  maxCount @5 :Int64;        # only the last maxCount events are visible (0: no limit)
  maxAgeUs @6 :Int64;        # events older than this are hidden (0: no limit)
}

struct ReaderReply {
  requestId @0 :UInt64;
  union {
    error @1 :Common.Error;  # malformed, tooLarge, unsupportedVersion, invalidStream, invalidEvent
                             # (bad filter), badRange, notFound, unavailable, busy, internal
    page @2 :Page;
    streamInfo @3 :StreamInfo;
    head @4 :UInt64;         # highest globalSeq stored (0: the store is empty)
  }
}
