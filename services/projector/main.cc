// even-projector: runs projections into query databases. See services/projector/README.md.
#include "even/common/config.h"
#include "projector/projector_service.h"

namespace {

int projector_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions store_db;
  config::LogOptions log_options;
  projector::ProjectorOptions p;
  std::string projections_file;
  std::vector<std::string> rebuild;
  p.query_db.name = "even_query";
  std::string query_url, query_user, query_password;
  int progress_ms = static_cast<int>(p.runner.progress_interval.count());
  int retry_ms = static_cast<int>(p.runner.retry_after.count());
  int feed_timeout_ms = static_cast<int>(p.runner.subscription.feed_timeout.count());
  int timeout_ms = static_cast<int>(p.client.timeout.count());

  po::options_description desc("even-projector options");
  desc.add_options()
      ("projections", po::value(&projections_file)->default_value(""),
       "JSON file of SQL-config projections and projection streams (see README.md)")
      ("query-db-url", po::value(&query_url)->default_value(""), "server of the query database (default: --db-url)")
      ("query-db-user", po::value(&query_user)->default_value(""), "its user (default: --db-user)")
      ("query-db-password", po::value(&query_password)->default_value(""), "its password (default: --db-password)")
      ("query-db-name", po::value(&p.query_db.name)->default_value(p.query_db.name),
       "the query database read models and checkpoints are written to (created if missing)")
      ("reader-endpoint", po::value(&p.client.reader_endpoint)->default_value(p.client.reader_endpoint),
       "even-reader's address (history)")
      ("dispatcher-pub-endpoint", po::value(&p.client.feed_endpoint)->default_value(p.client.feed_endpoint),
       "even-dispatcher's PUB address (live events)")
      ("timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms), "per reader call")
      ("feed-timeout-ms", po::value(&feed_timeout_ms)->default_value(feed_timeout_ms),
       "no feed message for this long: reconnect and catch up")
      ("max-batch-events", po::value(&p.runner.max_batch_events)->default_value(p.runner.max_batch_events),
       "events applied per query-database transaction, at most")
      ("queue-events", po::value(&p.runner.queue_events)->default_value(p.runner.queue_events),
       "events buffered per projection between its subscription and its writer")
      ("progress-interval-ms", po::value(&progress_ms)->default_value(progress_ms),
       "how often to log rebuild progress, refresh the head and look for rebuild requests")
      ("retry-ms", po::value(&retry_ms)->default_value(retry_ms), "wait after a lost connection")
      ("rebuild", po::value(&rebuild)->composing(), "rebuild this projection (or projection stream) at start; repeatable");
  config::add_db_options(desc, store_db);
  config::add_log_options(desc, log_options);
  auto vm = config::parse(argc, argv, desc,
                          "even-projector: runs projections into query databases.\n"
                          "Usage: even-projector [--config FILE] --projections FILE [options]");
  if (!vm) return 0;
  if (p.runner.max_batch_events == 0 || p.runner.queue_events == 0 || progress_ms <= 0 || retry_ms < 0)
    throw po::error("--max-batch-events, --queue-events and --progress-interval-ms must be positive");
  p.store_db = store_db;
  p.query_db.url = query_url.empty() ? store_db.url : query_url;
  p.query_db.user = query_user.empty() ? store_db.user : query_user;
  p.query_db.password = query_password.empty() ? store_db.password : query_password;
  p.runner.progress_interval = std::chrono::milliseconds(progress_ms);
  p.runner.retry_after = std::chrono::milliseconds(retry_ms);
  p.runner.subscription.feed_timeout = std::chrono::milliseconds(feed_timeout_ms);
  p.client.timeout = std::chrono::milliseconds(timeout_ms);
  p.rebuild.insert(rebuild.begin(), rebuild.end());

  auto log = config::make_logger("projector", log_options);
  projector::ProjectorService service(p, log);
  if (!projections_file.empty()) service.add_config(projector::load_projector_config(projections_file));
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-projector", projector_main, argc, argv); }
