# Types shared by every Even message. Wire format rules (one message per ZeroMQ frame,
# limits, alignment) are in common/include/even/common/wire.h and docs in schemas/README.md.
@0xe6e964ab2cb19c50;

$import "/capnp/c++.capnp".namespace("even::schema");

# Version of the wire protocol. A request with another major version gets ErrorCode.unsupportedVersion.
const protocolVersion :UInt16 = 1;

enum PayloadFormat {
  binary @0;
  json @1;
}

# An event as the client proposes it (before it is stored).
struct EventData {
  eventId @0 :Data;        # 16 bytes, made by the client (UUID); the idempotency key
  type @1 :Text;           # event type name, e.g. "AccountOpened"
  metadata @2 :Data;       # opaque to the store (JSON by convention: correlation/causation ids)
  payload @3 :Data;
  payloadFormat @4 :PayloadFormat;
}

# An event as stored: what reads and the live feed deliver.
struct RecordedEvent {
  globalSeq @0 :UInt64;    # position in the global order (MySQL AUTO_INCREMENT); may have holes
  eventId @1 :Data;
  stream @2 :Text;
  streamSeq @3 :Int64;     # 1, 2, 3 ... within the stream, no holes
  type @4 :Text;
  createdAtUs @5 :Int64;   # commit time, microseconds since the Unix epoch (UTC)
  metadata @6 :Data;
  payload @7 :Data;
  payloadFormat @8 :PayloadFormat;
}

# Every service answers with these codes; each service documents which ones it uses.
enum ErrorCode {
  none @0;
  malformed @1;            # not a valid Cap'n Proto message of the expected type
  tooLarge @2;             # message or event above the configured limit
  unsupportedVersion @3;   # protocolVersion not understood
  invalidStream @4;        # stream name empty, too long or with forbidden characters
  invalidEvent @5;         # bad event id, type, or empty event list
  wrongExpectedVersion @6; # optimistic concurrency conflict; Error.currentVersion tells the version
  duplicateEvent @7;       # event ids already stored elsewhere (not an idempotent retry)
  busy @8;                 # the service is saturated; retry later
  unavailable @9;          # the store cannot be reached; retry later
  notFound @10;
  badRange @11;
  internal @12;
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;
  currentVersion @2 :Int64 = -1;   # for wrongExpectedVersion: the stream's version (-1: no stream)
}
