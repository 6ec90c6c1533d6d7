// Checkpoints: one row per projection in a table of the database its read model lives in
// (`even_checkpoints` in a query database; `projection_stream_checkpoints` in the event store for
// projection streams, migration 2). The row is updated in the same transaction as the read model,
// so `position` always tells exactly which events the read model holds.
//
//   position            every event matching the projection with global_seq <= position is applied
//   definition_hash     the definition the read model was built with
//   state               resetting | rebuilding | running | failed | stopped
//   events_applied      events applied since the last reset
//   head, rate          the store's head seen and events/s, at the last commit (for status)
//   rebuild_from_head   the store's head when the current rebuild started (0: none)
//   rebuild_requested   set by `evenctl projection rebuild`; the projector rebuilds and clears it
//   error               why the projection stopped (state failed)
//
// Not thread-safe: used by one runner thread over its connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "even/common/store/mysql.h"
#include "even/common/types.h"

namespace even::projector {

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

// The CREATE TABLE of a checkpoint table named `table`.
std::string checkpoint_table_ddl(const std::string& table);

class CheckpointTable {
 public:
  CheckpointTable(store::Connection& conn, std::string table) : conn_(conn), table_(std::move(table)) {}

  void ensure();  // CREATE TABLE IF NOT EXISTS
  std::optional<Checkpoint> load(const std::string& projection);
  std::vector<Checkpoint> load_all();
  // Autocommitted: position 0, the new hash, state resetting, rebuild_from_head = head.
  void begin_reset(const std::string& projection, const std::string& hash, GlobalSeq head);
  // Autocommitted state change (failed / stopped / running), with an error text for failed.
  void set_state(const std::string& projection, const std::string& state, const std::string& error = {});
  // Whether `evenctl projection rebuild` asked for a rebuild.
  bool rebuild_requested(const std::string& projection);
  // Autocommitted: asks for a rebuild; false when there is no such projection.
  bool request_rebuild(const std::string& projection);

  // The UPDATE that a batch's transaction ends with.
  std::string update_sql(const std::string& projection, GlobalSeq position, std::uint64_t applied_in_batch,
                         GlobalSeq head, double rate, const std::string& state) const;
  // The UPDATE a rebuild's reset transaction ends with (state rebuilding).
  std::string reset_done_sql(const std::string& projection) const;

 private:
  std::string where(const std::string& projection) const;
  store::Connection& conn_;
  std::string table_;
};

std::int64_t now_us();

}  // namespace even::projector
