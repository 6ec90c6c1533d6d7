// even-server: writer, dispatcher and reader in one process. See services/server/README.md.
#include <malloc.h>

#include <algorithm>

#include "even/common/config.h"
#include "even/common/store/schema.h"
#include "server/server.h"

namespace {

int server_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  server::ServerOptions s;
  bool init_store = false, no_standby = false;
  int heartbeat_ms = static_cast<int>(s.dispatcher.heartbeat.count());
  std::size_t max_message_bytes = s.writer.limits.max_message_bytes;

  po::options_description desc("even-server options (the same names as the separate services')");
  desc.add_options()
      ("writer-endpoint", po::value(&s.writer.endpoint)->default_value(s.writer.endpoint),
       "ROUTER address clients append to")
      ("reader-endpoint", po::value(&s.reader.endpoint)->default_value(s.reader.endpoint),
       "ROUTER address clients read from")
      ("dispatcher-pub-endpoint", po::value(&s.dispatcher.pub_endpoint)->default_value(s.dispatcher.pub_endpoint),
       "PUB address subscribers connect to (the writer feeds the dispatcher over inproc://)")
      ("workers", po::value(&s.reader.workers)->default_value(s.reader.workers),
       "reader worker threads, each with its own store connection")
      ("max-batch-requests", po::value(&s.writer.max_batch_requests)->default_value(s.writer.max_batch_requests),
       "appends committed together in one transaction, at most")
      ("max-message-bytes", po::value(&max_message_bytes)->default_value(max_message_bytes),
       "largest append request accepted")
      ("heartbeat-ms", po::value(&heartbeat_ms)->default_value(heartbeat_ms), "feed heartbeat period")
      ("lock-name", po::value(&s.writer.committer.lock_name)->default_value(""),
       "name of the writer's master lock (default even-writer:<db-name>)")
      ("no-standby", po::bool_switch(&no_standby), "exit instead of waiting when another writer is master")
      ("init-store", po::bool_switch(&init_store), "create or upgrade the store's tables, then continue")
      ("projections", po::value(&s.projections_file)->default_value(""),
       "also run even-projector's SQL-config projections and projection streams of this JSON file")
      ("query-db-name", po::value(&s.projector.query_db.name)->default_value("even_query"),
       "with --projections: the query database (on the store's server; created if missing)");
  config::add_db_options(desc, s.db);
  config::add_log_options(desc, s.log);
  auto vm = config::parse(argc, argv, desc,
                          "even-server: even-writer, even-dispatcher and even-reader in one process.\n"
                          "Usage: even-server [--config FILE] [options]");
  if (!vm) return 0;
  if (s.reader.workers < 1 || s.reader.workers > 256) throw po::error("--workers must be 1..256");
  if (heartbeat_ms <= 0) throw po::error("--heartbeat-ms must be positive");
  s.dispatcher.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  s.writer.limits.max_message_bytes = max_message_bytes;
  s.writer.committer.standby = !no_standby;
  {
    const std::string name = s.projector.query_db.name;
    s.projector.query_db = s.db;
    s.projector.query_db.name = name;
  }
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(s.reader.worker.page.max_bytes * 4 + (1u << 20), 1u << 30)));

  auto log = config::make_logger("server", s.log);
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
