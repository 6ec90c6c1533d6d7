// The even-reader's own options: the keys of [reader] in the config file (--reader.KEY flags), read
// by even-reader and by even-server alike. The endpoint is a shared key at the top of the file and
// is registered by each program.
#pragma once

#include "even/common/config.h"
#include "reader/reader_service.h"

namespace even::reader {

// Adds the [reader] keys to `desc`, bound to `options`, whose current values are the defaults
// (except max-request-bytes: 1 MiB, reads are small). `options` must stay alive until the options
// are parsed (po::notify writes into it).
void add_options(config::po::options_description& desc, ReaderOptions& options);

// Checks the values read into `options`; throws po::error naming the flag.
void finish_options(const ReaderOptions& options);

}  // namespace even::reader
