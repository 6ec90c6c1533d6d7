# Persistent subscription groups (competing consumers): client DEALER -> even-groups ROUTER.
#
# Two kinds of conversation share the socket (services/groups/README.md):
#  - admin requests (create, delete, list, replayParked): one reply each, with the request's id;
#  - a consumer: `subscribe` to a group (one group per connection), then the service pushes
#    `deliveries` (requestId 0) while the consumer has room (at most maxInFlight unacked), and the
#    consumer sends `ack` / `nack` for each delivery id and a `heartbeat` every second or so.
#    Acks and nacks are not answered unless something in them is refused (an `error` naming the
#    refused delivery ids); a heartbeat is answered `ok`, or `error` notSubscribed when the service
#    does not know the connection (it restarted, or dropped a silent consumer): subscribe again.
@0x9a9b79b4526f23c6;

$import "/capnp/c++.capnp".namespace("even::schema::groups");
using Common = import "common.capnp";

# Which events a group hands out.
enum SourceKind {
  stream @0;     # one stream (value: its name)
  category @1;   # one category (value: the part of stream names before the first '-')
  eventType @2;  # one event type
  all @3;        # $all (value empty)
}

enum Ordering {
  perStream @0;  # one stream's events to one consumer at a time, in stream order (default)
  unordered @1;  # any event to any consumer with room: throughput over order
}

enum NackAction {
  retry @0;      # deliver again (counts against maxRetries; then parked)
  park @1;       # into the parked stream now
  skip @2;       # drop it: counts as handled
}

enum GroupError {
  none @0;
  malformed @1;        # not a GroupRequest, or a frame layout the service does not take
  unknownGroup @2;
  alreadyExists @3;    # create of a name in use (with other settings)
  invalidArgument @4;  # a bad name, source or setting (the message names it)
  unknownDelivery @5;  # ack/nack of a delivery id this connection does not hold (never sent,
                       # already settled, timed out and handed to another consumer, forged)
  notSubscribed @6;    # ack/nack/heartbeat on a connection that is not a consumer (any more)
  unavailable @7;      # the store or the writer cannot be reached; retry later
  tooLarge @8;
  unsupportedVersion @9;
}

struct GroupSettings {
  source @0 :SourceKind;
  value @1 :Text;
  maxRetries @2 :UInt32;     # deliveries beyond the first before an event is parked
  ackTimeoutMs @3 :UInt32;   # unacked this long: taken back and delivered again
  maxInFlight @4 :UInt32;    # unacked deliveries per consumer, at most
  ordering @5 :Ordering;
  startFrom @6 :UInt64;      # first global position considered (0 and 1: from the start)
}

struct GroupInfo {
  name @0 :Text;
  settings @1 :GroupSettings;
  checkpoint @2 :UInt64;     # every matching event at or below it is acked, skipped or parked
  consumers @3 :UInt32;
  inFlight @4 :UInt32;
  parked @5 :UInt64;         # events parked so far
  parkedStream @6 :Text;     # where they are (a readable stream)
  delivered @7 :UInt64;      # since the service started
  redelivered @8 :UInt64;
  acked @9 :UInt64;
  replayPending @10 :UInt64; # parked events of a replay not acked yet
}

struct Delivery {
  deliveryId @0 :UInt64;     # what ack/nack name; valid on this connection until settled or timed out
  retryCount @1 :UInt32;     # earlier deliveries of this event (0 the first time)
  event @2 :Common.RecordedEvent;
  replayed @3 :Bool;         # a parked event handed out again by replayParked
}

struct CreateGroup {
  name @0 :Text;
  settings @1 :GroupSettings;
}

struct Subscribe {
  group @0 :Text;
  maxInFlight @1 :UInt32;    # this consumer's room (0: the group's); capped by the group's
}

struct Nack {
  deliveryIds @0 :List(UInt64);
  action @1 :NackAction;
  reason @2 :Text;
}

struct GroupRequest {
  protocolVersion @0 :UInt16;
  requestId @1 :UInt64;
  union {
    create @2 :CreateGroup;
    delete @3 :Text;          # group name
    list @4 :Void;
    replayParked @5 :Text;    # group name: hand out its parked events once more
    subscribe @6 :Subscribe;
    ack @7 :List(UInt64);     # delivery ids
    nack @8 :Nack;
    heartbeat @9 :Void;
    unsubscribe @10 :Void;    # in-flight deliveries go back to the group at once
  }
}

struct Error {
  code @0 :GroupError;
  message @1 :Text;
  deliveryIds @2 :List(UInt64);  # the refused ones, for ack/nack
}

struct GroupReply {
  requestId @0 :UInt64;
  union {
    ok @1 :Void;
    error @2 :Error;
    groups @3 :List(GroupInfo);
    deliveries @4 :List(Delivery);
    subscribed @5 :GroupInfo;
    replayStarted @6 :UInt64;   # parked events to be handed out again
  }
}
