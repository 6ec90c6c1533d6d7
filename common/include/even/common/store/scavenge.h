// Scavenge: physically removes the events that stream lifecycles hide (deletes, hard deletes,
// truncates, max-count, max-age; services/writer/README.md "Stream lifecycle"), stream by stream,
// in bounded transactions, beside a running writer.
//
// What a stream hides is worked out once, when the scavenge starts (appends during it wait for
// the next one). Only rows older than min_age_us are removed: the dispatcher may not have verified
// a younger event yet (it would then never be published), and a client resending an append whose
// reply was lost must still find its event ids.
//
// Each batch is one short READ COMMITTED transaction (no gap locks): it locks the stream's
// `streams` row (a lifecycle change committed since lowers the bound; one in flight waits for the
// batch), DELETEs at most batch_rows of the hidden rows by (stream, stream_seq), then raises the
// stream's truncate_before above the last row removed (so its version survives the removal of its
// last events). It locks no row the writer writes, so the writer's inserts never wait for it; a
// lifecycle change or a restart of a deleted stream waits at most one batch. The global sequence
// keeps its order: the removed positions are holes, which readers skip and the dispatcher proves
// like any other (services/dispatcher/README.md).
#pragma once

#include <cstdint>
#include <functional>

#include "even/common/store/db_options.h"

namespace even::store {

struct ScavengeProgress {
  std::uint64_t streams_done = 0;
  std::uint64_t streams_total = 0;  // streams with a lifecycle setting
  std::uint64_t rows_removed = 0;
  std::uint64_t rows_to_remove = 0;  // counted before the first batch (appends may add some)
  double seconds = 0;
  double rows_per_second() const { return seconds > 0 ? double(rows_removed) / seconds : 0; }
  // Seconds left at the current rate (0 when unknown or done).
  double eta_seconds() const;
};

struct ScavengeOptions {
  std::size_t batch_rows = 1000;  // rows a transaction removes at most
  int pause_ms = 0;               // between batches (to leave the store to the writer)
  // Rows younger than this (created_at_us) are kept; well above how long the dispatcher takes to
  // publish an event and a client to give up resending one.
  std::int64_t min_age_us = 60'000'000;
  int progress_every_ms = 1000;
  // Called about every progress_every_ms and once at the end (on the calling thread).
  std::function<void(const ScavengeProgress&)> progress;
};

// Runs one scavenge to the end and returns the final progress. Throws sql::SQLException for a
// store error (what was removed stays removed; running it again continues) and
// std::invalid_argument for batch_rows == 0 or a negative min_age_us.
ScavengeProgress scavenge(const DbOptions& db, const ScavengeOptions& options);

}  // namespace even::store
