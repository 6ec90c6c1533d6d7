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

struct WriterRequest {
  protocolVersion @0 :UInt16;
  requestId @1 :UInt64;
  union {
    append @2 :AppendRequest;
    ping @3 :Void;
  }
}

struct WriterReply {
  requestId @0 :UInt64;
  union {
    error @1 :Common.Error;
    append @2 :AppendResult;
    pong @3 :Void;
  }
}
