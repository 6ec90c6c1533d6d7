// FeedVerifier: checks what the feed claims against the store, so that only events the store
// holds are published (services/dispatcher/README.md, "Feed trust").
//
// The feed is whatever reaches the PULL endpoint: the writer's batches, but also a writer bug, a
// stale writer after a failover, a misconfigured second writer or anyone else. So a feed event is
// a claim ("the store holds this id of this stream at this global seq"), never a fact. The writer
// pushes a batch only after its COMMIT returned, so a read that starts after the batch arrived
// (a fresh READ COMMITTED statement) sees every genuine event in it. A claim is believed when the
// store holds an event at its global seq with the same event id and stream; the dispatcher then
// goes on with the store's row, never with the feed's bytes (type, metadata and payload are the
// store's too). Any other claim is refused: its position is absent from the store (beyond the
// head, a hole, a write a failover lost) or holds another event. A refused claim raises nothing
// and proves no hole, and a genuine event refused (say, read before it was visible) is not lost:
// the GapTracker reads the store for what is missing and the dispatcher polls the store's head.
//
// A duplicate is the same event id at the same position: verify() returns its store row again,
// and the GapTracker drops it as already published. The same position with another id is a
// forgery, refused here.
//
// Cost: verify() reads once for all the claims it is given (the dispatcher gives it every frame of
// one wake-up): the positions are merged into runs of nearby ids, read by primary key in one
// statement per kMaxRunsPerRead runs. The writer's batches are contiguous: one run, one statement.
//
// Not thread-safe; owns no socket or thread. Store errors are thrown as sql::SQLException.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dispatcher/gap_store.h"
#include "even/common/event.h"
#include "even/common/types.h"
#include "even/common/wire.h"

namespace even::dispatcher {

// One event as the feed states it: only what is checked.
struct FeedClaim {
  GlobalSeq global_seq;
  std::optional<EventId> event_id;  // nullopt: the feed's id was not 16 bytes
  std::string stream;
  std::uint32_t sender = 0;         // the caller's tag (which frame it came in), copied to a refusal
};

// Decodes one frame of the feed (a CommittedBatch) and appends the claims of its events to `out`,
// each tagged `sender`. Returns the frame's error, with `out` unchanged, when it is not a valid
// CommittedBatch under `limits`. Pure: the dispatcher calls it on every frame its PULL socket
// receives, the fuzz target tests/fuzz/dispatcher_feed.cpp on arbitrary bytes.
std::optional<wire::DecodeError> decode_claims(zmq::message_t&& frame, const wire::Limits& limits,
                                               std::uint32_t sender, std::vector<FeedClaim>& out);

enum class RefusalReason {
  absent,            // the store holds no event at that global seq
  different_event,   // the store holds another event id there
  different_stream,  // the store holds that event id there, in another stream
};

struct Refusal {
  FeedClaim claim;
  RefusalReason reason;
  std::optional<EventId> stored_id;  // what the store holds at that position (unless absent)
  std::string stored_stream;
};

struct Verified {
  std::vector<RecordedEvent> events;  // the store's rows of the believed claims: ascending, each position once
  std::vector<Refusal> refused;            // in global seq order
};

class FeedVerifier {
 public:
  // Claims at most this far apart share a run (the ids in between are read too and ignored).
  static constexpr std::uint64_t kRunSlack = 16;
  // Runs per statement; a forged frame with scattered positions costs more statements, not one
  // statement the server could only answer with a table scan.
  static constexpr std::size_t kMaxRunsPerRead = 64;

  // `store` must outlive the verifier.
  explicit FeedVerifier(GapStore& store) : store_(store) {}

  // Checks `claims` (any order, duplicates allowed) against the store. Throws the store's errors;
  // then nothing is believed.
  Verified verify(std::vector<FeedClaim> claims);

 private:
  GapStore& store_;
};

const char* to_string(RefusalReason reason);

}  // namespace even::dispatcher
