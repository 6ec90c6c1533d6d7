// The even-writer's own options: the keys of [writer] in the config file (--writer.KEY flags), read
// by even-writer and by even-server alike. The endpoints are shared keys at the top of the file and
// are registered by each program (even-server wires the writer to its dispatcher in-process).
#pragma once

#include "even/common/config.h"
#include "writer/writer_service.h"

namespace even::writer {

// Adds the [writer] keys to `desc`, bound to `options`, whose current values are the defaults.
// `options` must stay alive until the options are parsed (po::notify writes into it).
void add_options(config::po::options_description& desc, WriterOptions& options);

// Checks the values read into `options`; throws po::error naming the flag.
void finish_options(const WriterOptions& options);

}  // namespace even::writer
