#include "projector_fixture.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include <cppconn/resultset_metadata.h>

namespace even::test {

using namespace std::chrono_literals;

const char* const kTotalsConfig = R"J({
  "projections": [
    { "name": "sql_totals",
      "categories": ["acct"],
      "setup": [
        "CREATE TABLE IF NOT EXISTS sql_totals (stream VARCHAR(200) NOT NULL PRIMARY KEY, n BIGINT NOT NULL, amount BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sql_log (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, global_seq BIGINT NOT NULL, KEY (global_seq))"
      ],
      "reset": ["DROP TABLE IF EXISTS sql_totals, sql_log"],
      "events": {
        "Deposited": [
          "INSERT INTO sql_totals VALUES (:stream, 1, :payload.amount) ON DUPLICATE KEY UPDATE n = n + 1, amount = amount + VALUES(amount)",
          "INSERT INTO sql_log (global_seq) VALUES (:global_seq)"
        ],
        "Withdrawn": [
          "INSERT INTO sql_totals VALUES (:stream, 1, -:payload.amount) ON DUPLICATE KEY UPDATE n = n + 1, amount = amount + VALUES(amount)",
          "INSERT INTO sql_log (global_seq) VALUES (:global_seq)"
        ]
      }
    }
  ],
  "projection_streams": [
    { "name": "deposits", "categories": ["acct"], "event_types": ["Deposited"] }
  ]
})J";

Load::Load(client::ClientOptions options, int threads, int max_appends) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, options, t, max_appends] {
      client::Client c(options);
      for (int n = 0; n < max_appends && !stop_; ++n) {
        std::vector<client::NewEvent> evs(1 + (n + t) % 3);
        std::string stream = "acct-" + std::to_string(t) + "_" + std::to_string(n % 5);
        for (std::size_t i = 0; i < evs.size(); ++i) {
          auto& e = evs[i];
          if (n % 4 == 3) {
            e.type = "Noise";
          } else {
            e.type = (n + static_cast<int>(i)) % 3 == 2 ? "Withdrawn" : "Deposited";
            e.payload = "{\"amount\":" + std::to_string((n * 7 + t + static_cast<int>(i)) % 100 + 1) + "}";
          }
          if (e.payload.empty()) e.payload = "{\"x\":1}";
        }
        if (n % 4 == 3) stream = "other-" + std::to_string(t);
        try {
          c.append(stream, ExpectedVersion::any(), evs);
          events_ += evs.size();
        } catch (const client::Error& e) {
          ADD_FAILURE() << "append failed: " << e.what();
          return;
        }
      }
    });
  }
}

Load::~Load() { stop(); }

void Load::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

namespace {
std::vector<std::vector<std::string>> mysql_rows(store::Connection& c, const std::string& sql) {
  auto rs = c.query(sql);
  const auto columns = rs->getMetaData()->getColumnCount();
  std::vector<std::vector<std::string>> out;
  while (rs->next()) {
    std::vector<std::string> row;
    for (unsigned i = 1; i <= columns; ++i) row.emplace_back(rs->isNull(i) ? std::string() : std::string(rs->getString(i)));
    out.push_back(std::move(row));
  }
  return out;
}
}  // namespace

std::vector<std::vector<std::string>> ProjectorTest::query_rows(const std::string& sql) const {
  return mysql_rows(*query.connect(), sql);
}

std::vector<std::string> ProjectorTest::query_db_flags() const { return {"--query-db-name", query.db().name}; }

void ProjectorTest::SetUp() {
  cluster.start_writer();
  cluster.start_dispatcher();
  cluster.start_reader();
}

std::string ProjectorTest::write_file(const std::string& name, const std::string& content) {
  std::string path = "/tmp/even-projector-test-" + std::to_string(::getpid()) + "-" + query.db().name + "-" + name;
  std::ofstream(path) << content;
  return path;
}

std::vector<std::string> ProjectorTest::projector_flags() const {
  std::vector<std::string> f = {"--reader-endpoint", cluster.reader_endpoint, "--dispatcher-pub-endpoint",
                                cluster.pub_endpoint};
  for (auto& x : db_flags(const_cast<Cluster&>(cluster).store().db())) f.push_back(x);
  for (auto& x : query_db_flags()) f.push_back(x);
  return f;
}

std::unique_ptr<Process> ProjectorTest::start_projector(const std::string& config, std::vector<std::string> extra,
                                                        bool host) {
  std::vector<std::string> argv = {host ? bin("tests/projector/projector_host") : bin("services/projector/even-projector")};
  for (auto& f : projector_flags()) argv.push_back(f);
  if (!config.empty()) {
    argv.push_back("--projections");
    argv.push_back(config);
  }
  if (!host) {
    for (const char* f : {"--projector.progress-interval-ms", "200", "--projector.retry-ms", "200", "--projector.feed-timeout-ms", "1000"})
      argv.push_back(f);
  }
  for (auto& f : extra) argv.push_back(f);
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string log = "/tmp/even-" + std::string(info->test_suite_name()) + "." + info->name() + "-projector" +
                    std::to_string(projector_runs_++) + "-" + std::to_string(::getpid()) + ".log";
  auto p = std::make_unique<Process>(argv, log);
  if (!p->wait_for_log("projector running", 20s)) throw std::runtime_error("projector did not start:\n" + p->log());
  return p;
}

std::uint64_t ProjectorTest::append_deposits(int n, const std::string& stream) {
  client::Client c(client_options());
  std::uint64_t last = 0;
  for (int i = 1; i <= n; ++i) {
    client::NewEvent e;
    e.type = "Deposited";
    e.payload = "{\"amount\":" + std::to_string(i) + "}";
    last = c.append(stream, ExpectedVersion::any(), {e}).last_global_seq.value();
  }
  return last;
}

TotalsMap ProjectorTest::expected_totals() const {
  auto c = const_cast<Cluster&>(cluster).store().connect();
  auto rs = c->query("SELECT stream, event_type, payload FROM events WHERE category = 'acct' AND event_type IN "
                     "('Deposited', 'Withdrawn') ORDER BY global_seq");
  TotalsMap m;
  while (rs->next()) {
    auto j = nlohmann::json::parse(std::string(rs->getString(3)));
    auto amount = j.at("amount").get<std::int64_t>();
    auto& t = m[rs->getString(1)];
    ++t.n;
    t.amount += rs->getString(2) == "Withdrawn" ? -amount : amount;
  }
  return m;
}

std::vector<std::uint64_t> ProjectorTest::expected_acct_seqs(bool deposits_only) const {
  auto c = const_cast<Cluster&>(cluster).store().connect();
  auto rs = c->query(std::string("SELECT global_seq FROM events WHERE category = 'acct' AND event_type IN ") +
                     (deposits_only ? "('Deposited')" : "('Deposited', 'Withdrawn')") + " ORDER BY global_seq");
  std::vector<std::uint64_t> out;
  while (rs->next()) out.push_back(rs->getUInt64(1));
  return out;
}

TotalsMap ProjectorTest::table_totals(const std::string& table) const {
  TotalsMap m;
  for (const auto& r : query_rows("SELECT stream, n, amount FROM " + table)) m[r[0]] = {std::stoll(r[1]), std::stoll(r[2])};
  return m;
}

std::vector<std::uint64_t> ProjectorTest::log_seqs(const std::string& table) const {
  std::vector<std::uint64_t> out;
  for (const auto& r : query_rows("SELECT global_seq FROM " + table + " ORDER BY id")) out.push_back(std::stoull(r[0]));
  return out;
}

CheckpointRow ProjectorTest::checkpoint(const std::string& name, bool stream) const {
  CheckpointRow r;
  try {
    // Projection names are [A-Za-z0-9_.:-]: quoted the same way in both dialects.
    const std::string sql = std::string("SELECT position, events_applied, state, COALESCE(error, '') FROM ") +
                            (stream ? "projection_stream_checkpoints" : "even_checkpoints") + " WHERE projection = '" +
                            name + "'";
    const auto rows = stream ? mysql_rows(*const_cast<Cluster&>(cluster).store().connect(), sql) : query_rows(sql);
    if (!rows.empty()) {
      r.exists = true;
      r.position = std::stoull(rows[0][0]);
      r.events_applied = std::stoull(rows[0][1]);
      r.state = rows[0][2];
      r.error = rows[0][3];
    }
  } catch (const std::exception&) {
    // the table does not exist yet
  }
  return r;
}

::testing::AssertionResult ProjectorTest::wait_caught_up(const std::string& name, std::chrono::seconds timeout,
                                                         bool stream) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  CheckpointRow cp;
  std::uint64_t head = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    head = cluster.head();
    cp = checkpoint(name, stream);
    if (cp.exists && cp.position >= head && cp.state == "running") return ::testing::AssertionSuccess();
    if (cp.state == "failed") return ::testing::AssertionFailure() << name << " failed: " << cp.error;
    std::this_thread::sleep_for(50ms);
  }
  return ::testing::AssertionFailure() << name << " did not catch up: position " << cp.position << ", head " << head
                                       << ", state " << cp.state;
}

int ProjectorTest::evenctl(std::vector<std::string> args, std::string* out) const {
  args.insert(args.begin(), bin("tools/evenctl"));
  return run_tool(args, out);
}

::testing::AssertionResult read_model_exact(const TotalsMap& expected, const std::vector<std::uint64_t>& expected_seqs,
                                            const TotalsMap& got, const std::vector<std::uint64_t>& got_log) {
  if (got_log.size() != expected_seqs.size())
    return ::testing::AssertionFailure() << "applied " << got_log.size() << " events, expected " << expected_seqs.size();
  for (std::size_t i = 0; i < got_log.size(); ++i)
    if (got_log[i] != expected_seqs[i])
      return ::testing::AssertionFailure() << "application #" << i << " was event " << got_log[i] << ", expected "
                                           << expected_seqs[i] << " (a duplicate, a gap or out of order)";
  if (got != expected) {
    for (const auto& [stream, t] : expected) {
      auto it = got.find(stream);
      if (it == got.end()) return ::testing::AssertionFailure() << "stream " << stream << " missing from the read model";
      if (!(it->second == t))
        return ::testing::AssertionFailure() << stream << ": n " << it->second.n << " amount " << it->second.amount
                                             << ", expected n " << t.n << " amount " << t.amount;
    }
    return ::testing::AssertionFailure() << "the read model has streams that have no events";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace even::test
