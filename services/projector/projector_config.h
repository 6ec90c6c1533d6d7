// The projector's JSON file (--projections FILE): SQL-config projections and projection streams.
//
//   {
//     "projections": [
//       { "name": "balances",
//         "database": "even_query",              // optional: another query database (same server)
//         "categories": ["account"],             // optional filter beside the event types
//         "version": 2,                          // optional: change it to force a rebuild
//         "setup": ["CREATE TABLE IF NOT EXISTS balances (account VARCHAR(200) PRIMARY KEY, amount BIGINT)"],
//         "reset": ["DROP TABLE IF EXISTS balances"],
//         "events": {
//           "Deposited": "INSERT INTO balances VALUES (:stream, :payload.amount)
//                         ON DUPLICATE KEY UPDATE amount = amount + VALUES(amount)",
//           "Withdrawn": ["UPDATE balances SET amount = amount - :payload.amount WHERE account = :stream"]
//         } } ],
//     "projection_streams": [
//       { "name": "big-deposits", "categories": ["account"], "event_types": ["Deposited"] } ]
//   }
//
// A projection consumes exactly the event types named under "events". Its definition hash covers
// everything but "name" and "database", so editing a statement rebuilds it.
#pragma once

#include <string>
#include <vector>

#include "projector/projection_stream.h"
#include "projector/sql_config_projection.h"

namespace even::projector {

struct ProjectorConfig {
  std::vector<SqlProjectionDef> projections;
  std::vector<ProjectionStreamDef> projection_streams;
};

// Throws std::runtime_error naming `origin` and what is wrong.
ProjectorConfig parse_projector_config(const std::string& json_text, const std::string& origin);
ProjectorConfig load_projector_config(const std::string& path);

}  // namespace even::projector
