#include "projector/projector_options.h"

#include <vector>

#include "projector/query_db.h"

namespace even::projector {

namespace po = config::po;
using config::milliseconds;

void add_options(po::options_description& desc, ProjectorOptions& p) {
  po::options_description section("even-projector: [projector] in the config file, --projector.KEY as flags");
  section.add_options()
      ("projector.stopped", po::value(&p.stopped)->composing(),
       "leave this projection stopped (not started); its checkpoint stays and its lag shows in the metrics; "
       "repeatable")
      ("projector.max-batch-events", po::value(&p.runner.max_batch_events)->default_value(p.runner.max_batch_events),
       "events applied per query-database transaction, at most")
      ("projector.queue-events", po::value(&p.runner.queue_events)->default_value(p.runner.queue_events),
       "events buffered per projection between its subscription and its writer")
      ("projector.progress-interval-ms", milliseconds(p.runner.progress_interval),
       "how often to log rebuild progress, refresh the head and look for rebuild requests")
      ("projector.retry-ms", milliseconds(p.runner.retry_after), "wait after a lost connection")
      ("projector.feed-timeout-ms", milliseconds(p.runner.subscription.feed_timeout),
       "no feed message for this long: reconnect and catch up");
  desc.add(section);
}

void add_shared_options(po::options_description& desc, ProjectorOptions& p, std::string& projections_file) {
  desc.add_options()
      ("projections", po::value(&projections_file)->default_value(projections_file),
       "JSON file of SQL-config projections and projection streams to run (services/projector/README.md)")
      ("query-db-url", po::value<std::string>()->default_value(""),
       "server of the query database: tcp://HOST:PORT or unix:///socket (MySQL/MariaDB), postgresql://HOST:PORT "
       "(PostgreSQL); default: --db-url")
      ("query-db-user", po::value<std::string>()->default_value(""), "its user (default: --db-user)")
      ("query-db-password", po::value<std::string>()->default_value(""), "its password (default: --db-password)")
      ("query-db-password-file",
       po::value<std::string>()->default_value("")->notifier([](const std::string& path) {
         if (!path.empty()) config::check_password_file(path);
       }),
       "file holding its password, mode 0600 (default: --db-password-file); wins over --query-db-password")
      ("query-db-name", po::value(&p.query_db.name)->default_value(kDefaultQueryDbName),
       "the query database read models and checkpoints are written to (created if missing)")
      ("timeout-ms",
       po::value<int>()
           ->default_value(static_cast<int>(p.client.timeout.count()))
           ->notifier([&p](int ms) { p.client.timeout = std::chrono::milliseconds(ms); }),
       "how long a call to the reader may take")
      ("rebuild", po::value<std::vector<std::string>>()->composing(),
       "rebuild this projection (or projection stream) at start; repeatable");
}

void finish_options(const po::variables_map& vm, const config::DbOptions& store_db, ProjectorOptions& p) {
  const auto& r = p.runner;
  if (r.max_batch_events == 0 || r.queue_events == 0 || r.progress_interval <= std::chrono::milliseconds(0))
    throw po::error("--projector.max-batch-events, --projector.queue-events and --projector.progress-interval-ms must "
                    "be positive");
  if (r.retry_after < std::chrono::milliseconds(0) || r.subscription.feed_timeout <= std::chrono::milliseconds(0))
    throw po::error("--projector.retry-ms must not be negative, --projector.feed-timeout-ms must be positive");
  if (p.client.timeout <= std::chrono::milliseconds(0)) throw po::error("--timeout-ms must be positive");
  p.store_db = store_db;
  const std::string query_db_name = p.query_db.name;
  p.query_db = store_db;  // timeouts too
  p.query_db.name = query_db_name;
  const auto or_store = [&vm](const char* key, const std::string& store_value) {
    const auto& given = vm[key].as<std::string>();
    return given.empty() ? store_value : given;
  };
  p.query_db.url = or_store("query-db-url", store_db.url);
  p.query_db.user = or_store("query-db-user", store_db.user);
  if (auto why = query_dialect(p.query_db.url).check_url(p.query_db.url); !why.empty()) throw po::error(why);
  if (const auto& file = vm["query-db-password-file"].as<std::string>(); !file.empty()) {
    p.query_db.password_file = file;
    p.query_db.password.clear();
  } else if (const auto& password = vm["query-db-password"].as<std::string>(); !password.empty()) {
    p.query_db.password = password;
    p.query_db.password_file.clear();
  }  // else the store's password or password file
  if (vm.count("rebuild")) {
    const auto& names = vm["rebuild"].as<std::vector<std::string>>();
    p.rebuild.insert(names.begin(), names.end());
  }
}

}  // namespace even::projector
