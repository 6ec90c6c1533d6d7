# The writer's request/reply protocol: client DEALER -> even-writer ROUTER.
# One WriterRequest per frame; the writer answers with one WriterReply carrying the same requestId,
# and only after COMMIT returned.
@0x965415b4f2a89a48;

$import "/capnp/c++.capnp".namespace("even::schema");
using Common = import "common.capnp";

struct ExpectedVersion {
  union {
    any @0 :Void;        # no check; buffered (group-committed) path
    noStream @1 :Void;   # the stream must not exist
    exists @2 :Void;     # the stream must exist
    exact @3 :Int64;     # the stream's current version must be exactly this (0 is not valid: use noStream)
  }
}

struct AppendRequest {
  stream @0 :Text;
  expected @1 :ExpectedVersion;
  events @2 :List(Common.EventData);
}

struct AppendResult {
  firstStreamSeq @0 :Int64;
  lastStreamSeq @1 :Int64;    # the stream's version after this append
  firstGlobalSeq @2 :UInt64;
  lastGlobalSeq @3 :UInt64;
  idempotent @4 :Bool;        # true when these events were already stored (a retry)
}

# Stream lifecycle (services/writer/README.md, "Stream lifecycle"). Each is decided in order with
# the appends around it, in the same batch transaction, and answered with the stream's state after
# it (LifecycleResult). `expected` is checked as for an append (a soft-deleted stream counts as
# not existing).
struct DeleteStream {
  stream @0 :Text;
  expected @1 :ExpectedVersion;
  hard @2 :Bool;           # false: soft delete (appending with noStream starts it again from the
                           # next stream sequence); true: tombstone (never written again)
}

struct TruncateStream {
  stream @0 :Text;
  expected @1 :ExpectedVersion;
  before @2 :Int64;        # hide stream_seq < before; 1 <= before <= version + 1 (else badRange)
}

struct SetStreamMetadata {
  stream @0 :Text;
  expected @1 :ExpectedVersion;
  maxCount @2 :Int64;      # keep the last maxCount events visible; 0: no limit; < 0: badRange
  maxAgeUs @3 :Int64;      # hide events older than this at the time of a read; 0: no limit
}

struct LifecycleResult {
  version @0 :Int64;       # the stream sequence of its last event ever written (0: none)
  deleted @1 :Bool;
  tombstoned @2 :Bool;
  truncateBefore @3 :Int64;
  maxCount @4 :Int64;      # 0: no limit
  maxAgeUs @5 :Int64;      # 0: no limit
}

struct WriterRequest {
  protocolVersion @0 :UInt16;
  requestId @1 :UInt64;
  union {
    append @2 :AppendRequest;
    ping @3 :Void;
    deleteStream @4 :DeleteStream;
    truncateStream @5 :TruncateStream;
    setStreamMetadata @6 :SetStreamMetadata;
  }
}

struct WriterReply {
  requestId @0 :UInt64;
  union {
    error @1 :Common.Error;
    append @2 :AppendResult;
    pong @3 :Void;
    lifecycle @4 :LifecycleResult;   # the answer to deleteStream, truncateStream, setStreamMetadata
  }
}
