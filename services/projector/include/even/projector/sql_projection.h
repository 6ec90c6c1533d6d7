// SQL-config projections: a read model kept by SQL statements per event type, with parameters
// bound from the event, and no code. Usually configured in the projector's JSON file
// (`even-projector --projections FILE`, format in services/projector/README.md); an application
// can load the same file, or build a definition in code, and run the result on its own
// ProjectionRunner like any C++ projection.
//
// Parameters, written :name in a statement (outside quotes and comments):
//   :global_seq :stream :stream_seq :category :type :event_id (UUID text) :created_at_us
//   :created_at ('YYYY-MM-DD HH:MM:SS.ffffff', UTC, for DATETIME(6) columns)
//   :payload / :metadata          the whole payload / metadata as text
//   :payload.a.b / :metadata.a.b  a field of the JSON payload / metadata (array elements by index:
//                                 :payload.items.0); strings are quoted, numbers and booleans
//                                 written as literals, objects and arrays as JSON text, and a
//                                 missing field (or a payload that is not JSON) as NULL.
// Every value goes into the SQL text quoted or as a number rendered by the projector, never
// pasted raw, so a payload cannot change a statement's structure.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "even/projector/projection.h"

namespace even::projector {

struct SqlProjectionDef {
  std::string name;
  std::string database;                  // query database name; empty: the projector's --query-db-name
  std::vector<std::string> categories;   // optional category filter
  std::vector<std::string> event_types;  // the handlers' event types
  std::vector<std::string> setup;        // CREATE TABLE IF NOT EXISTS ... (run at every start)
  std::vector<std::string> reset;        // clear the read model (rebuild)
  std::map<std::string, std::vector<std::string>> handlers;  // event type -> statements, in order
  std::string definition_hash;           // of everything above but name and database
};

// The projection that runs `def`. Throws std::invalid_argument for a bad statement parameter.
std::shared_ptr<Projection> make_sql_projection(SqlProjectionDef def);

// The SQL-config projections of a projector JSON file (its "projections" list; projection streams
// are ignored here). Throws std::runtime_error naming the file and what is wrong.
std::vector<std::shared_ptr<Projection>> load_sql_projections(const std::string& path);

}  // namespace even::projector
