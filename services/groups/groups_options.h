// even-groups' own options: the keys of [groups] in the config file (--groups.KEY flags), read by
// even-groups and by even-server alike. The endpoints (groups-endpoint, writer-endpoint) are
// shared keys at the top of the file and are registered by each program.
#pragma once

#include "even/common/config.h"
#include "groups/groups_service.h"

namespace even::groups {

// Adds the [groups] keys to `desc`, bound to `options`, whose current values are the defaults.
// `options` must stay alive until the options are parsed (po::notify writes into it).
void add_options(config::po::options_description& desc, GroupsOptions& options);

// Checks the values read into `options`; throws po::error naming the flag.
void finish_options(const GroupsOptions& options);

}  // namespace even::groups
