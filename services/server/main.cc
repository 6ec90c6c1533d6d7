// even-server: writer, dispatcher, reader (and projector) in one process. See services/server/README.md.
#include <malloc.h>

#include <algorithm>

#include "even/common/config.h"
#include "even/common/store/schema.h"
#include "server/server.h"
#include "server/server_options.h"

namespace {

int server_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  server::ServerOptions s;
  bool init_store = false;

  po::options_description desc("even-server: shared keys, at the top of the config file");
  server::add_options(desc, s, init_store);
  auto parsed = config::parse_services(
      argc, argv, desc,
      "even-server: even-writer, even-dispatcher, even-reader (and, with --projections, even-projector) in one "
      "process.\nUsage: even-server [--config FILE] [options]",
      server::hosted_sections());
  if (!parsed) return 0;
  server::finish_options(parsed->vm, s);
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(s.reader.worker.page.max_bytes * 4 + (1u << 20), 1u << 30)));

  auto log = config::make_logger("server", s.log);
  for (const auto& warning : parsed->warnings) log->warn("{}", warning);
  if (init_store) {
    auto r = store::init_store(s.db);
    log->info("store '{}' at schema version {} (was {})", s.db.name, r.to_version, r.from_version);
  } else if (int v = store::schema_version(s.db); v != store::latest_schema_version()) {
    log->error("store '{}' has schema version {}, this server needs {}; run `evenctl store init` or --init-store",
               s.db.name, v, store::latest_schema_version());
    return 2;
  }
  server::Server server(s);
  return server.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-server", server_main, argc, argv); }
