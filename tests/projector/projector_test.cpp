// even-projector with real processes: SQL-only projections, SIGKILL at random points under load,
// rebuilds, projection streams and failure isolation. Every read model is compared with the one
// computed directly from the store's events: same totals, each event applied once, in order.
#include <signal.h>

#include <random>

#include "projector_fixture.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint64_t> projection_stream_seqs(const client::ClientOptions& o, const std::string& name) {
  client::Client c(o);
  auto events = c.read_projection(name);
  std::vector<std::uint64_t> out;
  std::int64_t expected_seq = 1;
  while (const auto* e = events.next()) {
    EXPECT_EQ(events.seq().value(), expected_seq++) << "projection sequence";
    out.push_back(e->global_seq.value());
  }
  return out;
}

TEST_F(ProjectorTest, SqlOnlyProjectionKeepsTableCurrent) {
  Load history(client_options(), 2, 40);
  history.stop();
  auto projector = start_projector(write_file("totals.json", kTotalsConfig));
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));

  // Live: appended while the projector runs.
  Load live(client_options(), 3, 30);
  live.stop();
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));
  // One more event shows up quickly.
  const auto t0 = std::chrono::steady_clock::now();
  const auto seq = append_deposits(1, "acct-late");
  while (checkpoint("sql_totals").position < seq && std::chrono::steady_clock::now() - t0 < 10s)
    std::this_thread::sleep_for(5ms);
  EXPECT_GE(checkpoint("sql_totals").position, seq);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a live event took long to reach the read model";
  EXPECT_EQ(table_totals("sql_totals")["acct-late"], (Totals{1, 1}));

  std::string out;
  ASSERT_EQ(evenctl({"projection", "status", "--json", "--query-db-name", query.db().name, "--db-name",
                     cluster.store().db().name, "--db-url", cluster.store().db().url},
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("\"name\":\"sql_totals\",\"kind\":\"projection\",\"state\":\"running\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"lag\":0"), std::string::npos) << out;
  EXPECT_NE(out.find("\"name\":\"deposits\",\"kind\":\"stream\""), std::string::npos) << out;
  projector->signal(SIGTERM);
  EXPECT_EQ(projector->wait(10s), 0) << projector->log();
  EXPECT_EQ(checkpoint("sql_totals").state, "stopped");
}

TEST_F(ProjectorTest, SigkillAtRandomPointsEndsWithExactReadModels) {
  const std::string config = write_file("totals.json", kTotalsConfig);
  auto projector = start_projector(config, {"--max-batch-events", "50"}, /*host=*/true);
  Load load(client_options(), 4);
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 1200)(rng)));
    projector->signal(SIGKILL);
    projector->wait(5s);
    ++kills;
    projector = start_projector(config, {"--max-batch-events", "50"}, true);
  }
  load.stop();
  ASSERT_GT(load.events(), 200u);
  ASSERT_TRUE(wait_caught_up("cpp_totals", 120s));
  ASSERT_TRUE(wait_caught_up("sql_totals", 120s));
  ASSERT_TRUE(wait_caught_up("deposits", 120s, true));
  const auto expected = expected_totals();
  const auto seqs = expected_acct_seqs();
  EXPECT_TRUE(read_model_exact(expected, seqs, table_totals("cpp_totals"), log_seqs("cpp_log"))) << "C++ projection";
  EXPECT_TRUE(read_model_exact(expected, seqs, table_totals("sql_totals"), log_seqs("sql_log"))) << "SQL projection";
  EXPECT_EQ(projection_stream_seqs(client_options(), "deposits"), expected_acct_seqs(true));
  EXPECT_EQ(kills, 6);
}

TEST_F(ProjectorTest, RebuildProducesTheSameReadModel) {
  Load history(client_options(), 3, 60);
  history.stop();
  const std::string config = write_file("totals.json", kTotalsConfig);
  auto projector = start_projector(config, {}, true);
  ASSERT_TRUE(wait_caught_up("cpp_totals", 60s));
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));
  const auto sql_before = table_totals("sql_totals");
  const auto cpp_before = table_totals("cpp_totals");
  const auto stream_before = projection_stream_seqs(client_options(), "deposits");
  ASSERT_EQ(sql_before, expected_totals());

  // Asked for with evenctl while the projector runs, and while events keep coming.
  Load during(client_options(), 1, 30);
  std::string out;
  std::vector<std::string> flags = {"--query-db-name", query.db().name, "--db-name", cluster.store().db().name,
                                    "--db-url", cluster.store().db().url, "--wait", "--wait-s", "60"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  };
  ASSERT_EQ(evenctl(with({"projection", "rebuild", "sql_totals"}), &out), 0) << out;
  ASSERT_EQ(evenctl(with({"projection", "rebuild", "deposits", "--stream"}), &out), 0) << out;
  EXPECT_NE(evenctl(with({"projection", "rebuild", "no_such_projection"}), &out), 0) << out;
  during.stop();
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  ASSERT_TRUE(wait_caught_up("cpp_totals", 60s));
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));
  EXPECT_EQ(projection_stream_seqs(client_options(), "deposits"), expected_acct_seqs(true));
  auto stream_after = projection_stream_seqs(client_options(), "deposits");
  stream_after.resize(stream_before.size());
  EXPECT_EQ(stream_after, stream_before) << "a rebuilt projection stream numbers the same events the same way";
  EXPECT_NE(projector->log().find("projection sql_totals: rebuilding (rebuild requested)"), std::string::npos);
  EXPECT_NE(projector->log().find("projection sql_totals: rebuild done"), std::string::npos) << projector->log();

  // A changed definition (new C++ version) rebuilds at start instead of mixing.
  projector->signal(SIGTERM);
  ASSERT_EQ(projector->wait(10s), 0);
  projector = start_projector(config, {"--cpp-version", "v2"}, true);
  ASSERT_TRUE(projector->wait_for_log("projection cpp_totals: rebuilding (definition changed", 20s)) << projector->log();
  ASSERT_TRUE(wait_caught_up("cpp_totals", 60s));
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("cpp_totals"), log_seqs("cpp_log")));
  const auto cp = checkpoint("cpp_totals");
  EXPECT_EQ(cp.events_applied, expected_acct_seqs().size()) << "events_applied counts from the reset";
  EXPECT_EQ(projector->log().find("projection sql_totals: rebuilding"), std::string::npos) << "unchanged: no rebuild";
  (void)cpp_before;
}

TEST_F(ProjectorTest, ProjectionStreamsHaveNoHolesAndSurviveRestarts) {
  const std::string config = write_file(
      "streams.json",
      R"({"projection_streams": [{"name": "deposits", "categories": ["acct"], "event_types": ["Deposited"]},
                                 {"name": "noise", "event_types": ["Noise"]}]})");
  {
    client::Client c(client_options());
    EXPECT_THROW(c.read_projection("deposits").to_vector(), client::NotFound);
  }
  auto projector = start_projector(config);
  Load load(client_options(), 3);
  std::this_thread::sleep_for(700ms);
  projector->signal(SIGKILL);
  projector->wait(5s);
  std::this_thread::sleep_for(300ms);
  projector = start_projector(config);
  std::this_thread::sleep_for(500ms);
  projector->signal(SIGTERM);
  EXPECT_EQ(projector->wait(10s), 0);
  projector = start_projector(config);
  std::this_thread::sleep_for(300ms);
  load.stop();
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));
  ASSERT_TRUE(wait_caught_up("noise", 60s, true));
  EXPECT_EQ(projection_stream_seqs(client_options(), "deposits"), expected_acct_seqs(true));
  {
    auto c = cluster.store().connect();
    EXPECT_EQ(c->query_int("SELECT COUNT(*) FROM projection_streams WHERE name = 'noise'").value_or(-1),
              c->query_int("SELECT COUNT(*) FROM events WHERE event_type = 'Noise'").value_or(-2));
    EXPECT_EQ(c->query_int("SELECT MAX(seq) FROM projection_streams WHERE name = 'noise'").value_or(-1),
              c->query_int("SELECT COUNT(*) FROM projection_streams WHERE name = 'noise'").value_or(-2))
        << "no holes";
  }
  // Read from the middle, and through evenctl.
  const auto all = expected_acct_seqs(true);
  {
    client::Client c(client_options());
    auto tail = c.read_projection("deposits", ProjectionSeq(3), 2).to_vector();
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_EQ(tail[0].global_seq.value(), all[2]);
    EXPECT_EQ(tail[1].global_seq.value(), all[3]);
  }
  std::string out;
  ASSERT_EQ(evenctl({"read-projection", "deposits", "--from", "2", "--max", "1", "--reader-endpoint",
                     cluster.reader_endpoint},
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("\"seq\":2,\"global_seq\":" + std::to_string(all[1])), std::string::npos) << out;
  EXPECT_EQ(evenctl({"read-projection", "nope", "--reader-endpoint", cluster.reader_endpoint}, &out), 3) << out;
}

TEST_F(ProjectorTest, FailingProjectionDoesNotStopOthers) {
  // sql_bad fails on the Poison event (a missing table); cpp_totals throws on a chosen event.
  std::string bad_config = kTotalsConfig;
  bad_config.replace(bad_config.find("\"projections\": ["), 16,
                     R"J("projections": [
    { "name": "sql_bad", "reset": ["DROP TABLE IF EXISTS bad_log"],
      "setup": ["CREATE TABLE IF NOT EXISTS bad_log (global_seq BIGINT NOT NULL PRIMARY KEY)"],
      "events": { "Poison": "INSERT INTO no_such_table VALUES (:global_seq)",
                  "Deposited": "INSERT INTO bad_log VALUES (:global_seq)" } },)J");
  const std::uint64_t before = append_deposits(5, "acct-a");
  const std::uint64_t cpp_fail_seq = before + 4;  // the 4th event appended next (one writer, no rollbacks)
  auto projector = start_projector(write_file("bad.json", bad_config),
                                   {"--cpp-fail-on-seq", std::to_string(cpp_fail_seq)}, true);
  const std::uint64_t last_ok = append_deposits(2, "acct-b");
  std::uint64_t poison_seq = 0;
  {
    client::Client c(client_options());
    client::NewEvent e;
    e.type = "Poison";
    e.payload = "{}";
    poison_seq = c.append("acct-p", ExpectedVersion::any(), {e}).last_global_seq.value();
  }
  ASSERT_EQ(poison_seq, last_ok + 1);
  ASSERT_EQ(append_deposits(10, "acct-c"), poison_seq + 10);

  // Both failing projections stop with a clear error naming the event...
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((checkpoint("sql_bad").state != "failed" || checkpoint("cpp_totals").state != "failed") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  const auto bad = checkpoint("sql_bad");
  ASSERT_EQ(bad.state, "failed") << projector->log();
  EXPECT_NE(bad.error.find("event " + std::to_string(poison_seq) + " (Poison in acct-p"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("no_such_table"), std::string::npos) << bad.error;
  EXPECT_LT(bad.position, poison_seq);
  const auto cpp = checkpoint("cpp_totals");
  ASSERT_EQ(cpp.state, "failed");
  EXPECT_NE(cpp.error.find("event " + std::to_string(cpp_fail_seq)), std::string::npos) << cpp.error;
  EXPECT_NE(cpp.error.find("refuses this event"), std::string::npos) << cpp.error;
  // The events before the bad one stay applied (last_ok is the last acct event before it; the
  // Poison event between them is not one cpp_totals consumes).
  EXPECT_GE(cpp.position, last_ok);
  EXPECT_LT(cpp.position, cpp_fail_seq);
  EXPECT_EQ(log_seqs("cpp_log").back(), last_ok);
  EXPECT_NE(projector->log().find("projection sql_bad stopped: failed at event " + std::to_string(poison_seq)),
            std::string::npos)
      << projector->log();

  // ...and the others go on, in the same process.
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));
  EXPECT_TRUE(read_model_exact(expected_totals(), expected_acct_seqs(), table_totals("sql_totals"), log_seqs("sql_log")));
  EXPECT_TRUE(projector->running());
  const auto more = append_deposits(3, "acct-d");
  const auto t0 = std::chrono::steady_clock::now();
  while (checkpoint("sql_totals").position < more && std::chrono::steady_clock::now() - t0 < 20s)
    std::this_thread::sleep_for(20ms);
  EXPECT_GE(checkpoint("sql_totals").position, more);
  EXPECT_EQ(checkpoint("sql_bad").state, "failed");
}

}  // namespace
}  // namespace even::test
