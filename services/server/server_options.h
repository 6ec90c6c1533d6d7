// even-server's options: the options of every service it hosts, composed from their own modules
// (writer_options.h, dispatcher_options.h, reader_options.h, projector_options.h), so that
// `even-server --help` lists each of them and one config file configures the separate services
// and even-server alike: the shared keys at the top, each service's keys in its [section].
#pragma once

#include <string>
#include <vector>

#include "even/common/config.h"
#include "server/server.h"

namespace even::server {

// The services even-server hosts, as config sections (all of them; the projector runs only with a
// projections file, but its options are always read).
std::vector<std::string> hosted_sections();

// Adds the shared keys even-server reads and every hosted service's section to `desc`, bound to
// `options` (and `init_store`), whose current values are the defaults. Both must stay alive until
// the options are parsed.
void add_options(config::po::options_description& desc, ServerOptions& options, bool& init_store);

// Checks and completes what was read (each service's finish_options); throws po::error naming the
// flag.
void finish_options(const config::po::variables_map& vm, ServerOptions& options);

}  // namespace even::server
