// Scavenge: physically removes the events that stream lifecycles hide (deletes, hard deletes,
// truncates, max-count, max-age; services/writer/README.md "Stream lifecycle"), stream by stream,
// in bounded transactions, beside a running writer.
//
// Each batch is one short READ COMMITTED transaction (no gap locks): it works out again what is
// hidden, DELETEs at most batch_rows of those rows by (stream, stream_seq), then raises the
// stream's truncate_before above them (so its version survives the removal of its last events).
// It takes no lock before the DELETE, so it never holds up the writer's batches (which insert
// first and touch `streams` after). Nothing visible is removed, with one race left: a setting
// that shows more (a larger max-count or max-age) committed between a batch's reading of it and
// its DELETE does not save the rows that batch removes. The global sequence keeps its order: the removed positions are holes, which
// readers skip and the dispatcher proves like any other (services/dispatcher/README.md).
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
  int progress_every_ms = 1000;
  // Called about every progress_every_ms and once at the end (on the calling thread).
  std::function<void(const ScavengeProgress&)> progress;
};

// Runs one scavenge to the end and returns the final progress. Throws sql::SQLException for a
// store error (what was removed stays removed; running it again continues) and
// std::invalid_argument for batch_rows == 0.
ScavengeProgress scavenge(const DbOptions& db, const ScavengeOptions& options);

}  // namespace even::store
