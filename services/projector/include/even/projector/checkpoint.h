// Reading a projection's checkpoint, and asking for a rebuild, from outside the runner (status
// pages, evenctl, an application waiting for its read model). The checkpoint is one row per
// projection in a table of the database its read model lives in: `even_checkpoints` in a query
// database, `projection_stream_checkpoints` in the event store for projection streams. The runner
// updates it in the same transaction as the read model, so `position` always tells exactly which
// events the read model holds. (Writing it is the runner's business: services/projector/checkpoints.h.)
//
//   position            every event matching the projection with global_seq <= position is applied
//   definition_hash     the definition the read model was built with
//   state               resetting | rebuilding | running | failed | stopped
//   events_applied      events applied since the last reset
//   head, rate          the store's head seen and events/s, at the last commit (for status)
//   rebuild_from_head   the store's head when the current rebuild started (0: none)
//   rebuild_requested   set by request_rebuild(); the runner rebuilds and clears it
//   error               why the projection stopped (state failed)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "even/common/config.h"
#include "even/common/store/mysql.h"
#include "even/common/types.h"

namespace even::projector {

// The checkpoint table of a query database, and the one of projection streams (in the store).
inline constexpr const char* kQueryCheckpointTable = "even_checkpoints";
inline constexpr const char* kStreamCheckpointTable = "projection_stream_checkpoints";

struct Checkpoint {
  std::string projection;
  GlobalSeq position;
  std::string definition_hash;
  std::string state;
  std::uint64_t events_applied = 0;
  GlobalSeq head;
  double rate = 0;
  GlobalSeq rebuild_from_head;
  bool rebuild_requested = false;
  std::string error;
  std::int64_t updated_at_us = 0;
};

// The checkpoint of `projection` in `table` over an open connection to its database; nullopt
// when the projection has none yet or the table does not exist. Store errors throw sql::SQLException.
std::optional<Checkpoint> read_checkpoint(store::Connection& conn, const std::string& projection,
                                          const std::string& table = kQueryCheckpointTable);
// The same over a connection of its own to `db` (MySQL or PostgreSQL, by db.url).
std::optional<Checkpoint> read_checkpoint(const config::DbOptions& db, const std::string& projection,
                                          const std::string& table = kQueryCheckpointTable);
// Every checkpoint of `table` in database `db` (MySQL or PostgreSQL, by db.url), by name; nullopt when the database or the table
// does not exist (no projector ever ran there).
std::optional<std::vector<Checkpoint>> read_checkpoints(const config::DbOptions& db,
                                                        const std::string& table = kQueryCheckpointTable);
// Asks the runner of `projection` to rebuild it (it notices within its progress interval, or at
// its next start). False when `table` of `db` holds no checkpoint of that name.
bool request_rebuild(const config::DbOptions& db, const std::string& projection,
                     const std::string& table = kQueryCheckpointTable);

}  // namespace even::projector
