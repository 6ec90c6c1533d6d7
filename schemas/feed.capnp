# The live feed: even-writer PUSH -> even-dispatcher PULL (CommittedBatch), and
# even-dispatcher PUB -> subscribers (FeedMessage, topic frame first; see schemas/README.md).
@0x9b4073853cba60d3;

$import "/capnp/c++.capnp".namespace("even::schema");
using Common = import "common.capnp";

# Sent by the writer after each COMMIT, best effort (a full queue drops it; the dispatcher
# then reads the store). Events are in global order.
struct CommittedBatch {
  events @0 :List(Common.RecordedEvent);
}

# ---- even-dispatcher PUB -> subscribers -------------------------------------------------------
# Each PUB message is two frames: a topic frame, then one FeedMessage frame (wire.h).
# Topics (see schemas/README.md, section "Feed"):
#   "ev|<category>|"  an event of that category (subscribe to "ev|" for every event)
#   "hb|"             a heartbeat
# A subscriber that filters by category at the socket uses prevInCategory and the heartbeats'
# categoryHeads to detect what it missed; one that takes everything uses prevGlobalSeq.

struct FeedEvent {
  event @0 :Common.RecordedEvent;
  prevGlobalSeq @1 :UInt64;    # the event published just before this one (any category); 0: none
  prevInCategory @2 :UInt64;   # the last event of the same category before this one; 0: none
}

struct CategoryHead {
  category @0 :Text;
  globalSeq @1 :UInt64;        # the last event of this category published so far
}

struct Heartbeat {
  headGlobalSeq @0 :UInt64;    # every event <= this was published (or is a hole); the next event's prevGlobalSeq
  epoch @1 :UInt64;            # random, new for each dispatcher run
  seq @2 :UInt64;              # 1, 2, 3 ... within an epoch: a subscriber sees when it missed a heartbeat
  categoryHeads @3 :List(CategoryHead);  # categories with events published since the previous heartbeat
  categoryHeadsComplete @4 :Bool;        # false: the list was cut short; category subscribers must verify
}

struct FeedMessage {
  union {
    event @0 :FeedEvent;
    heartbeat @1 :Heartbeat;
  }
}
