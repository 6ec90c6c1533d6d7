// CheckpointTable: the runner's side of a checkpoint table (the columns are described in
// even/projector/checkpoint.h): create it, reset, change state, and the UPDATE each batch ends
// with, in the query database's dialect (query_db.h). Internal to the projector; readers outside
// use even/projector/checkpoint.h.
//
// Not thread-safe: used by one runner thread over its connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "even/common/types.h"
#include "even/projector/checkpoint.h"
#include "projector/query_db.h"

namespace even::projector {

class CheckpointTable {
 public:
  CheckpointTable(QueryConnection& conn, std::string table) : conn_(conn), table_(std::move(table)) {}

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
  std::string quoted(const std::string& text) const;
  QueryConnection& conn_;
  std::string table_;
};

std::int64_t now_us();

// read_checkpoint (checkpoint.h) over a connection of either server.
std::optional<Checkpoint> read_checkpoint(QueryConnection& conn, const std::string& projection,
                                          const std::string& table = kQueryCheckpointTable);

}  // namespace even::projector
