// The event store's tables and their versioned migrations.
//
// Tables (docs/storage in README.md):
//   even_meta      key/value; 'schema_version' is the applied migration number
//   events         one row per event; global_seq AUTO_INCREMENT is the global order
//   streams        one row per stream, inserted with its first event: its deleted flag (3: the
//                  version column is gone; a stream's version is MAX(stream_seq) in events)
//   projection_streams, projection_stream_checkpoints   (2) projection streams, written by
//                  even-projector, read by even-reader (services/projector/README.md)
//   subscription_groups  (5) persistent subscription groups and their checkpoints, written by
//                  even-groups (services/groups/README.md)
// init_store() creates the database if needed and applies every migration not yet applied, in
// order, each recorded in even_meta. Running it again is a no-op.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "even/common/store/db_options.h"

namespace even::store {

struct Migration {
  int version;
  std::string description;
  std::vector<std::string> statements;
};

// All migrations, in order. A later change appends; never edit an applied one.
const std::vector<Migration>& migrations();
int latest_schema_version();

struct InitResult {
  int from_version;
  int to_version;
};

// Creates db.name if missing and migrates it to the latest version. Throws sql::SQLException
// on store errors and std::runtime_error when the store is newer than this program.
InitResult init_store(const DbOptions& db);

// The applied schema version of db.name (0 when the database or its meta table does not exist).
int schema_version(const DbOptions& db);

}  // namespace even::store
