// The even-dispatcher's own options: the keys of [dispatcher] in the config file
// (--dispatcher.KEY flags), read by even-dispatcher and by even-server alike. The endpoints are
// shared keys at the top of the file and are registered by each program (even-server feeds its
// dispatcher in-process).
#pragma once

#include "dispatcher/dispatcher_service.h"
#include "even/common/config.h"

namespace even::dispatcher {

// Adds the [dispatcher] keys to `desc`, bound to `options`, whose current values are the
// defaults. `options` must stay alive until the options are parsed (po::notify writes into it).
void add_options(config::po::options_description& desc, DispatcherOptions& options);

// Checks the values read into `options`; throws po::error naming the flag.
void finish_options(const DispatcherOptions& options);

}  // namespace even::dispatcher
