// GapTracker: turns committed events that arrive in any order, with gaps and duplicates (the
// writer's best-effort PUSH, once checked against the store), into one publication in strict
// global order, reading the store for what did not arrive, and skipping holes only once they are
// proven (services/dispatcher/README.md). Every event it is given or reads is a store row.
//
// The hole rule. An id m is missing while a higher id n is committed. The transaction that took
// m took it before n was taken, so it has inserted m's row (InnoDB takes the id and then inserts
// the row within one statement) by the time it matters, and an inserted, uncommitted row is
// locked by its transaction. So: once gap_wait has passed, m is still not committed, a locking
// read of [m, n] meets no uncommitted row (GapStore::uncommitted_in), and hole_settle has passed
// since n was seen committed (covering the instant between taking an id and inserting its row),
// m's transaction has ended without committing: m is a hole. A transaction that stays open (a
// late commit) holds the gap for as long as it is open, and its event is published when it
// commits; a rolled-back one stops holding it as soon as it ends. Only when the store cannot run
// the locking read does a time rule (hole_safety) apply.
//
// Not thread-safe; owns no socket or thread. The store is used from the calls that need it and
// may throw; the tracker's state stays consistent, and a later run_due() retries.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "dispatcher/gap_store.h"
#include "even/common/event.h"
#include "even/common/types.h"

namespace even::dispatcher {

struct GapOptions {
  std::chrono::milliseconds gap_wait{3};         // hold later events this long before reading the store
  std::chrono::milliseconds hole_check{5};       // while a gap is unresolved, re-check this often
  std::chrono::milliseconds hole_settle{100};    // a missing id is a hole no sooner than this after a later one was seen
  std::chrono::milliseconds hole_safety{10000};  // time rule, only when the store cannot list transactions
  std::size_t max_pending = 200000;              // events held above a gap; more are dropped (read later)
  std::size_t read_batch = 1000;                 // rows per store read
};

struct GapStats {
  std::uint64_t published = 0;
  std::uint64_t from_store = 0;     // events that came from store reads rather than the writer
  std::uint64_t duplicates = 0;     // arrived after they were published (or twice): same position, same event
  std::uint64_t holes = 0;          // ids proven absent and skipped
  std::uint64_t gaps = 0;           // gaps that needed a store read
};

class GapTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // Called for each event, in strict global order. If it throws, the event is kept and offered
  // again later (nothing is skipped).
  using Publish = std::function<void(const RecordedEvent&)>;

  // `store` must outlive the tracker.
  GapTracker(GapStore& store, GapOptions options, Publish publish, std::shared_ptr<spdlog::logger> log);

  // Everything <= `published` counts as published; the next event published is the first one above.
  void reset(GlobalSeq published);
  // An event the store holds: its row, read from the store or checked against it (FeedVerifier),
  // never an event as the feed states it. It raises the known committed position, from which
  // missing ids may become holes, so a position the store has not reached must never come here.
  // A position already published or pending is a duplicate (the same event: the store holds one
  // event per position) and is dropped.
  void on_committed(RecordedEvent event, Clock::time_point now);
  // The store holds committed events up to `head` (found by polling while the writer is silent).
  void on_store_head(GlobalSeq head, Clock::time_point now);
  // Does the store work that is due at `now` (reads, hole checks).
  void run_due(Clock::time_point now);
  // When run_due() has work next; nullopt when there is no gap.
  std::optional<Clock::time_point> deadline() const;

  GlobalSeq published() const { return GlobalSeq(next_ - 1); }
  bool in_gap() const { return known_committed_ >= next_; }
  const GapStats& stats() const { return stats_; }

 private:
  struct Proof {
    std::uint64_t upto;       // the missing ids <= upto are decided together
    Clock::time_point started;
    bool reported = false;    // logged that it waits long
  };

  void drain();                                    // publishes pending events from next_ on
  void update_gap(Clock::time_point now, bool urgent);
  // Reads [from, to] into pending_ and publishes what became contiguous. When the read was cut
  // by read_batch, returns where to continue.
  std::optional<std::uint64_t> read_store(std::uint64_t from, std::uint64_t to);
  void resolve(Clock::time_point now);

  GapStore& store_;
  GapOptions options_;
  Publish publish_;
  std::shared_ptr<spdlog::logger> log_;

  std::uint64_t next_ = 1;             // the next global sequence to publish
  std::uint64_t known_committed_ = 0;  // the highest id known to be committed
  std::map<std::uint64_t, RecordedEvent> pending_;  // committed, above a gap
  std::optional<Clock::time_point> gap_since_;
  Clock::time_point next_read_{};      // when run_due() next reads the store
  std::optional<Proof> proof_;
  GapStats stats_;
};

}  // namespace even::dispatcher
