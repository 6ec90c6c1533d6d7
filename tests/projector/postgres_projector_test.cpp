// even-projector into a PostgreSQL query database (--query-db-url postgresql://...), with real
// processes: exactly-once under SIGKILL during a catch-up, a standby that takes over (advisory
// lock), a failing statement that names its event, and the same SQL projection written for each
// dialect giving equal tables in MariaDB and PostgreSQL. Needs the PostgreSQL of `ops/even test`
// (EVEN_TEST_PG_URL); skips without it, fails when it is set but unreachable.
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>

#include "projector_fixture.h"
#include "support/test_postgres.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

// kTotalsConfig's sql_totals in PostgreSQL's dialect: ON CONFLICT instead of ON DUPLICATE KEY,
// BIGSERIAL instead of AUTO_INCREMENT.
const char* const kPgTotalsConfig = R"J({
  "projections": [
    { "name": "sql_totals",
      "categories": ["acct"],
      "setup": [
        "CREATE TABLE IF NOT EXISTS sql_totals (stream VARCHAR(200) NOT NULL PRIMARY KEY, n BIGINT NOT NULL, amount BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sql_log (id BIGSERIAL PRIMARY KEY, global_seq BIGINT NOT NULL)"
      ],
      "reset": ["DROP TABLE IF EXISTS sql_totals, sql_log"],
      "events": {
        "Deposited": [
          "INSERT INTO sql_totals VALUES (:stream, 1, :payload.amount) ON CONFLICT (stream) DO UPDATE SET n = sql_totals.n + 1, amount = sql_totals.amount + EXCLUDED.amount",
          "INSERT INTO sql_log (global_seq) VALUES (:global_seq)"
        ],
        "Withdrawn": [
          "INSERT INTO sql_totals VALUES (:stream, 1, -:payload.amount) ON CONFLICT (stream) DO UPDATE SET n = sql_totals.n + 1, amount = sql_totals.amount + EXCLUDED.amount",
          "INSERT INTO sql_log (global_seq) VALUES (:global_seq)"
        ]
      }
    }
  ]
})J";

class PgProjectorTest : public ProjectorTest {
 protected:
  void SetUp() override {
    EVEN_REQUIRE_POSTGRES();
    pg = std::make_unique<TestPgDatabase>();  // throws (fails the test) when the server is unreachable
    ProjectorTest::SetUp();
  }

  // The PostgreSQL database, unless a test switched to the MariaDB one (`query`).
  std::vector<std::vector<std::string>> query_rows(const std::string& sql) const override {
    return on_postgres ? pg->rows(sql) : ProjectorTest::query_rows(sql);
  }
  std::vector<std::string> query_db_flags() const override {
    return on_postgres ? pg->projector_flags() : ProjectorTest::query_db_flags();
  }

  std::unique_ptr<Process> start(const std::string& config, std::vector<std::string> extra = {}) {
    return start_projector(config, std::move(extra));
  }

  std::unique_ptr<TestPgDatabase> pg;
  bool on_postgres = true;
};

TEST_F(PgProjectorTest, SigkillDuringCatchUpAppliesEveryEventOnce) {
  Load history(client_options(), 4, 200);
  history.stop();
  const std::string config = write_file("pg_totals.json", kPgTotalsConfig);
  const std::vector<std::string> small_batches = {"--projector.max-batch-events", "5"};
  auto projector = start(config, small_batches);
  Load live(client_options(), 2);
  std::mt19937 rng(std::random_device{}());
  int kills = 0, mid_catch_up = 0;
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 600)(rng)));
    const auto cp = checkpoint("sql_totals");
    if (cp.position < cluster.head()) ++mid_catch_up;
    projector->signal(SIGKILL);
    ASSERT_EQ(projector->wait(5s), 128 + SIGKILL);
    ++kills;
    projector = start(config, small_batches);
  }
  live.stop();
  ASSERT_GT(history.events() + live.events(), 600u);
  ASSERT_TRUE(wait_caught_up("sql_totals", 120s)) << projector->log();
  const auto seqs = expected_acct_seqs();
  EXPECT_TRUE(read_model_exact(expected_totals(), seqs, table_totals("sql_totals"), log_seqs("sql_log")));
  // The checkpoint counts each applied event once, across the restarts, and stands at the head.
  const auto cp = checkpoint("sql_totals");
  EXPECT_EQ(cp.events_applied, seqs.size());
  EXPECT_EQ(cp.position, cluster.head());
  EXPECT_EQ(kills, 6);
  EXPECT_GE(mid_catch_up, 1) << "no kill landed while the projection was behind";
}

TEST_F(PgProjectorTest, SecondProjectorStandsByAndTakesOver) {
  Load history(client_options(), 2, 40);
  history.stop();
  const std::string config = write_file("pg_totals.json", kPgTotalsConfig);
  auto first = start(config);
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  auto second = start(config);
  ASSERT_TRUE(second->wait_for_log("another projector runs it", 10s)) << second->log();
  // While the first one runs, the second applies nothing: the read model stays exact.
  append_deposits(5, "acct-while-both");
  ASSERT_TRUE(wait_caught_up("sql_totals", 30s));
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));

  first->signal(SIGKILL);
  first->wait(5s);
  ASSERT_TRUE(second->wait_for_log("took over", 15s)) << second->log();
  const auto last = append_deposits(5, "acct-after");
  ASSERT_TRUE(wait_caught_up("sql_totals", 30s)) << second->log();
  EXPECT_GE(checkpoint("sql_totals").position, last);
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));
}

TEST_F(PgProjectorTest, LostConnectionResumesFromTheCheckpoint) {
  const std::string config = write_file("pg_totals.json", kPgTotalsConfig);
  append_deposits(20, "acct-before");
  auto projector = start(config);
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  // The server ends the projector's sessions (as at a PostgreSQL restart): its lock goes with them.
  const auto killed = pg->scalar(
      "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND "
      "application_name = 'even-projector' AND pid <> pg_backend_pid()");
  ASSERT_GE(killed, 1);
  Load during(client_options(), 2, 30);
  during.stop();
  ASSERT_TRUE(projector->wait_for_log("restarting from the checkpoint", 10s)) << projector->log();
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s)) << projector->log();
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));
  EXPECT_EQ(checkpoint("sql_totals").events_applied, expected_acct_seqs().size());
  EXPECT_TRUE(projector->running());
}

TEST_F(PgProjectorTest, FailingStatementMarksTheProjectionFailedNamingTheEvent) {
  std::string config = kPgTotalsConfig;
  config.replace(config.find("\"projections\": ["), 16,
                 R"J("projections": [
    { "name": "sql_bad", "reset": ["DROP TABLE IF EXISTS bad_log"],
      "setup": ["CREATE TABLE IF NOT EXISTS bad_log (global_seq BIGINT NOT NULL PRIMARY KEY)"],
      "events": { "Poison": "INSERT INTO no_such_table VALUES (:global_seq)",
                  "Deposited": "INSERT INTO bad_log VALUES (:global_seq)" } },)J");
  auto projector = start(write_file("pg_bad.json", config));
  const std::uint64_t last_ok = append_deposits(3, "acct-b");
  std::uint64_t poison_seq = 0;
  {
    client::Client c(client_options());
    client::NewEvent e;
    e.type = "Poison";
    e.payload = "{}";
    poison_seq = c.append("acct-p", ExpectedVersion::any(), {e}).last_global_seq.value();
  }
  append_deposits(4, "acct-c");
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (checkpoint("sql_bad").state != "failed" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  const auto bad = checkpoint("sql_bad");
  ASSERT_EQ(bad.state, "failed") << projector->log();
  EXPECT_NE(bad.error.find("failed at event " + std::to_string(poison_seq) + " (Poison in acct-p"), std::string::npos)
      << bad.error;
  EXPECT_NE(bad.error.find("PostgreSQL error 42P01"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("no_such_table"), std::string::npos) << bad.error;
  // The events before it stay applied; nothing after it.
  EXPECT_GE(bad.position, last_ok);
  EXPECT_LT(bad.position, poison_seq);
  EXPECT_EQ(pg->scalar("SELECT MAX(global_seq) FROM bad_log"), static_cast<std::int64_t>(last_ok));
  // The other projection of the process goes on.
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  EXPECT_TRUE(projector->running());
}

// One read model, written once per dialect: strings with quotes, backslashes, comment and
// parameter look-alikes and non-ASCII text, JSON fields (nested, arrays, missing -> NULL,
// booleans, numbers), the whole payload.
const char* const kProfilesMysql = R"J({ "projections": [ { "name": "profiles",
  "setup": ["CREATE TABLE IF NOT EXISTS profiles (stream VARCHAR(200) NOT NULL PRIMARY KEY, name TEXT NULL, city TEXT NULL, tags TEXT NULL, score BIGINT NULL, ratio DOUBLE NULL, active BOOLEAN NULL, n BIGINT NOT NULL, last_seq BIGINT NOT NULL, created_at_us BIGINT NOT NULL, payload TEXT NOT NULL)"],
  "reset": ["DROP TABLE IF EXISTS profiles"],
  "events": { "Profiled": "INSERT INTO profiles VALUES (:stream, :payload.name, :payload.address.city, :payload.tags, :payload.score, :payload.ratio, :payload.active, 1, :global_seq, :created_at_us, :payload) ON DUPLICATE KEY UPDATE name = VALUES(name), city = VALUES(city), tags = VALUES(tags), score = VALUES(score), ratio = VALUES(ratio), active = VALUES(active), n = n + 1, last_seq = VALUES(last_seq), created_at_us = VALUES(created_at_us), payload = VALUES(payload)" } } ] })J";

const char* const kProfilesPostgres = R"J({ "projections": [ { "name": "profiles",
  "setup": ["CREATE TABLE IF NOT EXISTS profiles (stream VARCHAR(200) NOT NULL PRIMARY KEY, name TEXT NULL, city TEXT NULL, tags TEXT NULL, score BIGINT NULL, ratio DOUBLE PRECISION NULL, active BOOLEAN NULL, n BIGINT NOT NULL, last_seq BIGINT NOT NULL, created_at_us BIGINT NOT NULL, payload TEXT NOT NULL)"],
  "reset": ["DROP TABLE IF EXISTS profiles"],
  "events": { "Profiled": "INSERT INTO profiles VALUES (:stream, :payload.name, :payload.address.city, :payload.tags, :payload.score, :payload.ratio, :payload.active, 1, :global_seq, :created_at_us, :payload) ON CONFLICT (stream) DO UPDATE SET name = EXCLUDED.name, city = EXCLUDED.city, tags = EXCLUDED.tags, score = EXCLUDED.score, ratio = EXCLUDED.ratio, active = EXCLUDED.active, n = profiles.n + 1, last_seq = EXCLUDED.last_seq, created_at_us = EXCLUDED.created_at_us, payload = EXCLUDED.payload" } } ] })J";

TEST_F(PgProjectorTest, SameSqlProjectionGivesEqualTablesInMariaDbAndPostgres) {
  const std::vector<std::string> payloads = {
      R"({"name":"O'Brien","address":{"city":"Dún Laoghaire"},"tags":["a","b"],"score":7,"ratio":0.5,"active":true})",
      R"({"name":"back\\slash \\' and \\\\ two","address":{"city":"C:\\temp\\"},"score":-3,"active":false})",
      R"({"name":"'; DROP TABLE profiles; --","tags":[],"score":0,"ratio":1e-3})",
      R"({"name":"colon :stream and $1 and $$dollar$$ and \"dq\"","address":{"city":"Zürich 🚀"},"active":null})",
      R"({"name":"line\nbreak\ttab","address":{},"tags":[{"k":"v'"}],"score":9007199254740993})",
      R"({"other":"no name at all"})",
  };
  {
    client::Client c(client_options());
    for (int round = 0; round < 3; ++round)
      for (std::size_t i = 0; i < payloads.size(); ++i) {
        client::NewEvent e;
        e.type = "Profiled";
        e.payload = payloads[(i + static_cast<std::size_t>(round)) % payloads.size()];
        c.append("profile-" + std::to_string(i), ExpectedVersion::any(), {e});
      }
  }
  auto on_pg = start(write_file("profiles_pg.json", kProfilesPostgres));
  on_postgres = false;
  auto on_mariadb = start(write_file("profiles_mysql.json", kProfilesMysql));
  ASSERT_TRUE(wait_caught_up("profiles", 60s)) << on_mariadb->log();
  on_postgres = true;
  ASSERT_TRUE(wait_caught_up("profiles", 60s)) << on_pg->log();

  const std::string select =
      "SELECT stream, name, city, tags, score, ratio, active, n, last_seq, created_at_us, payload FROM profiles";
  // Rows by stream; booleans as 1/0 (MariaDB's BOOLEAN is TINYINT, PostgreSQL prints t/f),
  // NULL and '' apart.
  auto table = [&](bool postgres) {
    on_postgres = postgres;
    const auto nulls = query_rows("SELECT stream, name IS NULL, city IS NULL, tags IS NULL, score IS NULL, ratio IS NULL,"
                                  " active IS NULL FROM profiles");
    std::map<std::string, std::vector<std::string>> out;
    for (auto row : query_rows(select)) {
      if (row[6] == "t") row[6] = "1";
      if (row[6] == "f") row[6] = "0";
      if (!row[5].empty()) row[5] = std::to_string(std::stod(row[5]));
      out[row[0]] = row;
    }
    for (const auto& n : nulls)
      for (std::size_t i = 1; i < n.size(); ++i)
        if (n[i] == "1" || n[i] == "t") out[n[0]][i] = "<NULL>";
    return out;
  };
  const auto mariadb = table(false);
  const auto postgres = table(true);
  ASSERT_EQ(mariadb.size(), payloads.size());
  EXPECT_EQ(mariadb, postgres);
  // The values went in as they are in the JSON (not merely the same on both sides); stream i
  // holds payload (i + 2) % 6, its last.
  EXPECT_EQ(postgres.at("profile-4")[1], "O'Brien");
  EXPECT_EQ(postgres.at("profile-4")[2], "Dún Laoghaire");
  EXPECT_EQ(postgres.at("profile-0")[1], "'; DROP TABLE profiles; --");
  EXPECT_EQ(postgres.at("profile-5")[1], "back\\slash \\' and \\\\ two");
  EXPECT_EQ(postgres.at("profile-5")[2], "C:\\temp\\");
  EXPECT_EQ(postgres.at("profile-1")[1], "colon :stream and $1 and $$dollar$$ and \"dq\"");
  EXPECT_EQ(postgres.at("profile-1")[2], "Zürich 🚀");
  EXPECT_EQ(postgres.at("profile-2")[3], "[{\"k\":\"v'\"}]");
  EXPECT_EQ(postgres.at("profile-3")[1], "<NULL>");
  for (const auto& [stream, row] : postgres) EXPECT_EQ(row[7], "3") << stream;
}

}  // namespace
}  // namespace even::test
