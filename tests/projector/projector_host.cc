// projector_host: an application hosting a C++ projection with the even_projector library (as
// applications do), beside whatever --projections configures. The tests SIGKILL it.
//
// The C++ projection "cpp_totals" consumes category "acct" (Deposited, Withdrawn) and keeps
//   cpp_totals(stream, n, amount)   per stream: events applied and the sum of signed amounts
//   cpp_log(id AUTO_INCREMENT, global_seq)   one row per application (duplicates would show)
// --cpp-version changes its definition hash (a rebuild). --cpp-fail-on-seq N makes it throw on
// the event with global_seq N (a failing projection).
#include <nlohmann/json.hpp>

#include "even/common/config.h"
#include "projector/projector_service.h"

namespace {

using namespace even;

class TotalsProjection : public projector::Projection {
 public:
  TotalsProjection(std::string version, std::uint64_t fail_on) : version_(std::move(version)), fail_on_(fail_on) {}
  std::string name() const override { return "cpp_totals"; }
  client::Filter filter() const override { return {{"acct"}, {"Deposited", "Withdrawn"}}; }
  std::string definition_hash() const override { return "cpp-totals-" + version_; }
  void setup(projector::QueryTx& tx) override {
    tx.add("CREATE TABLE IF NOT EXISTS cpp_totals (stream VARCHAR(200) NOT NULL PRIMARY KEY, n BIGINT NOT NULL, "
           "amount BIGINT NOT NULL) ENGINE=InnoDB");
    tx.add("CREATE TABLE IF NOT EXISTS cpp_log (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
           "global_seq BIGINT NOT NULL, KEY (global_seq)) ENGINE=InnoDB");
  }
  void reset(projector::QueryTx& tx) override { tx.add("DROP TABLE IF EXISTS cpp_totals, cpp_log"); }
  void handle(const client::RecordedEvent& e, projector::QueryTx& tx) override {
    if (e.global_seq.value() == fail_on_) throw std::runtime_error("cpp_totals refuses this event (test switch)");
    auto j = nlohmann::json::parse(e.payload);
    std::int64_t amount = j.at("amount").get<std::int64_t>();
    if (e.type == "Withdrawn") amount = -amount;
    std::string sql = "INSERT INTO cpp_totals (stream, n, amount) VALUES (";
    store::append_quoted(sql, e.stream);
    sql += ", 1, " + std::to_string(amount) + ") ON DUPLICATE KEY UPDATE n = n + 1, amount = amount + VALUES(amount)";
    tx.add(std::move(sql));
    tx.add("INSERT INTO cpp_log (global_seq) VALUES (" + std::to_string(e.global_seq.value()) + ")");
  }

 private:
  std::string version_;
  std::uint64_t fail_on_;
};

int host_main(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions store_db;
  config::LogOptions log_options;
  projector::ProjectorOptions p;
  std::string projections_file, version = "v1";
  std::uint64_t fail_on = 0;
  int progress_ms = 200;
  po::options_description desc("projector_host options");
  desc.add_options()
      ("projections", po::value(&projections_file)->default_value(""), "also these SQL-config projections")
      ("query-db-name", po::value(&p.query_db.name)->required(), "query database")
      ("reader-endpoint", po::value(&p.client.reader_endpoint)->required(), "")
      ("dispatcher-pub-endpoint", po::value(&p.client.feed_endpoint)->required(), "")
      ("max-batch-events", po::value(&p.runner.max_batch_events)->default_value(p.runner.max_batch_events), "")
      ("progress-interval-ms", po::value(&progress_ms)->default_value(progress_ms), "")
      ("cpp-version", po::value(&version)->default_value(version), "definition version of cpp_totals")
      ("cpp-fail-on-seq", po::value(&fail_on)->default_value(0), "cpp_totals throws on this event");
  config::add_db_options(desc, store_db);
  config::add_log_options(desc, log_options);
  auto vm = config::parse(argc, argv, desc, "Usage: projector_host [options]");
  if (!vm) return 0;
  p.store_db = store_db;
  p.query_db.url = store_db.url;
  p.query_db.user = store_db.user;
  p.query_db.password = store_db.password;
  p.runner.progress_interval = std::chrono::milliseconds(progress_ms);
  p.runner.retry_after = std::chrono::milliseconds(200);
  p.runner.subscription.feed_timeout = std::chrono::milliseconds(1000);
  auto log = config::make_logger("projector", log_options);
  projector::ProjectorService service(p, log);
  service.add(std::make_shared<TotalsProjection>(version, fail_on));
  if (!projections_file.empty()) service.add_config(projector::load_projector_config(projections_file));
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("projector_host", host_main, argc, argv); }
