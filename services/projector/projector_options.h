// The even-projector's options, read by even-projector and by even-server alike:
// - its own keys, [projector] in the config file (--projector.KEY flags): batching, queueing,
//   progress and retry intervals, the feed timeout;
// - the shared keys it reads at the top of the file, with one meaning in every program:
//   projections (the SQL-config file), query-db-* (the query database; server, user and password
//   default to the store's db-*), timeout-ms (a client call), and the --rebuild flag.
// The reader and feed endpoints are shared keys too, registered by each program (even-server
// points its projector at its own reader and dispatcher).
#pragma once

#include <string>

#include "even/common/config.h"
#include "projector/projector_service.h"

namespace even::projector {

inline constexpr const char* kDefaultQueryDbName = "even_query";

// Adds the [projector] keys to `desc`, bound to `options`, whose current values are the defaults.
// `options` must stay alive until the options are parsed (po::notify writes into it).
void add_options(config::po::options_description& desc, ProjectorOptions& options);

// Adds the shared keys above; the projections file goes to `projections_file` (empty: none).
void add_shared_options(config::po::options_description& desc, ProjectorOptions& options,
                        std::string& projections_file);

// Checks the values read into `options` and completes them from `vm` and the event store's
// connection `store_db` (query_db's defaults, store_db, rebuild); throws po::error naming the flag.
void finish_options(const config::po::variables_map& vm, const config::DbOptions& store_db,
                    ProjectorOptions& options);

}  // namespace even::projector
