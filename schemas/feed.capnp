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
