// even-writer: the single write master. See services/writer/README.md.
#include <iostream>

#include "even/common/config.h"
#include "even/common/store/schema.h"
#include "writer/writer_service.h"

namespace {

int writer_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  writer::WriterOptions w;
  std::size_t max_message_bytes = w.limits.max_message_bytes;
  bool init_store = false;
  bool no_standby = false;

  po::options_description desc("even-writer options");
  desc.add_options()
      ("writer-endpoint", po::value(&w.endpoint)->default_value(w.endpoint),
       "ROUTER address clients append to (ZeroMQ endpoint)")
      ("dispatcher-pull-endpoint", po::value(&w.dispatcher_endpoint)->default_value(""),
       "the dispatcher's PULL address; committed events are pushed there (empty: no live feed)")
      ("max-batch-requests", po::value(&w.max_batch_requests)->default_value(w.max_batch_requests),
       "appends committed together in one transaction, at most")
      ("max-batch-events", po::value(&w.max_batch_events)->default_value(w.max_batch_events),
       "events committed together in one transaction, at most")
      ("batch-window-us", po::value(&w.batch_window_us)->default_value(w.batch_window_us),
       "after the request queue drains, wait this many microseconds for more before committing")
      ("max-message-bytes", po::value(&max_message_bytes)->default_value(max_message_bytes),
       "largest request accepted; larger ones get a tooLarge error")
      ("max-events-per-append", po::value(&w.max_events_per_append)->default_value(w.max_events_per_append),
       "events one append may carry")
      ("recv-hwm", po::value(&w.recv_hwm)->default_value(w.recv_hwm),
       "requests queued per client connection before the client feels pushback")
      ("lock-name", po::value(&w.committer.lock_name)->default_value(""),
       "name of the master lock (GET_LOCK); default even-writer:<db-name>")
      ("no-standby", po::bool_switch(&no_standby),
       "exit with an error when another writer is master, instead of waiting as a standby; and exit with code 3 "
       "when the master lock is lost, instead of becoming a standby again")
      ("init-store", po::bool_switch(&init_store), "create or upgrade the store's tables, then continue");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  auto vm = config::parse(argc, argv, desc,
                          "even-writer: the single write master of an Even event store.\n"
                          "Usage: even-writer [--config FILE] [options]");
  if (!vm) return 0;
  w.limits.max_message_bytes = max_message_bytes;
  w.committer.standby = !no_standby;

  auto log = config::make_logger("writer", log_options);
  // Every reason to exit goes to the log (with --log-file, stderr may be seen by nobody).
  try {
    if (init_store) {
      auto r = store::init_store(db);
      log->info("store '{}' at schema version {} (was {})", db.name, r.to_version, r.from_version);
    } else if (int v = store::schema_version(db); v != store::latest_schema_version()) {
      log->error("store '{}' has schema version {}, this writer needs {}; run `evenctl store init` or --init-store; "
                 "exiting with code 2",
                 db.name, v, store::latest_schema_version());
      return 2;
    }
    zmq::context_t ctx(1);
    writer::WriterService service(ctx, db, w, log);
    return service.run();
  } catch (const sql::SQLException& e) {
    log->critical("exiting with code 1: {}", store::describe(e));
    throw;
  } catch (const std::exception& e) {
    log->critical("exiting with code 1: {}", e.what());
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-writer", writer_main, argc, argv); }
