// Projections over events that a stream delete hides and a scavenge removes: the read model and
// the projection stream keep what they applied (nothing is undone), and a rebuild no longer sees
// the removed events (services/projector/README.md, "Deleted and scavenged events").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "even/client/client.h"
#include "even/common/store/scavenge.h"
#include "projector/projector_fixture.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

// Projection sequence -> global seq of a projection stream, through the client.
std::vector<std::pair<std::int64_t, std::uint64_t>> numbered(client::Client& c, const std::string& name) {
  std::vector<std::pair<std::int64_t, std::uint64_t>> out;
  auto s = c.read_projection(name);
  while (const auto* e = s.next()) out.emplace_back(s.seq().value(), e->global_seq.value());
  return out;
}

TEST_F(ProjectorTest, ScavengedEventsStayInTheReadModelUntilARebuild) {
  append_deposits(4, "acct-gone");
  append_deposits(3, "acct-kept");
  const std::string config = write_file("totals.json", kTotalsConfig);
  auto projector = start_projector(config);
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));
  const auto before = table_totals("sql_totals");
  ASSERT_EQ(before.at("acct-gone"), (Totals{4, 1 + 2 + 3 + 4}));
  client::Client c(client_options());
  const auto stream_before = numbered(c, "deposits");
  ASSERT_EQ(stream_before.size(), 7u);

  c.delete_stream("acct-gone");
  store::ScavengeOptions immediate;  // (no minimum age: the test's events are all young)
  immediate.min_age_us = 0;
  const auto removed = store::scavenge(cluster.store().db(), immediate);
  ASSERT_EQ(removed.rows_removed, 4u);
  ASSERT_EQ(cluster.store().scalar("SELECT COUNT(*) FROM events WHERE stream = 'acct-gone'"), 0);
  append_deposits(1, "acct-kept");  // the projector goes on past the holes
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));

  // Kept: the read model still counts what it applied; the projection stream's index keeps its
  // numbers, and reads skip the events that are gone.
  auto now = table_totals("sql_totals");
  EXPECT_EQ(now.at("acct-gone"), before.at("acct-gone"));
  EXPECT_EQ(now.at("acct-kept").n, 4);
  const auto stream_now = numbered(c, "deposits");
  std::vector<std::pair<std::int64_t, std::uint64_t>> expected;
  for (const auto& [seq, global] : stream_before)
    if (seq > 4) expected.emplace_back(seq, global);  // acct-gone's were numbered 1..4
  ASSERT_EQ(stream_now.size(), expected.size() + 1);
  EXPECT_EQ(std::vector(stream_now.begin(), stream_now.end() - 1), expected);
  EXPECT_EQ(stream_now.back().first, 8) << "numbering goes on after the removed events";

  // A rebuild no longer sees them.
  std::string out;
  const std::vector<std::string> flags = {"--query-db-name", query.db().name, "--db-name", cluster.store().db().name,
                                          "--db-url", cluster.store().db().url, "--wait", "--wait-s", "60"};
  auto rebuild = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"projection", "rebuild"});
    args.insert(args.end(), flags.begin(), flags.end());
    return evenctl(args, &out);
  };
  ASSERT_EQ(rebuild({"sql_totals"}), 0) << out;
  ASSERT_EQ(rebuild({"deposits", "--stream"}), 0) << out;
  ASSERT_TRUE(wait_caught_up("sql_totals", 60s));
  ASSERT_TRUE(wait_caught_up("deposits", 60s, true));
  now = table_totals("sql_totals");
  EXPECT_EQ(now.count("acct-gone"), 0u);
  EXPECT_EQ(now, expected_totals());
  const auto rebuilt = numbered(c, "deposits");
  ASSERT_EQ(rebuilt.size(), 4u);
  EXPECT_EQ(rebuilt.front().first, 1) << "a rebuilt projection stream numbers what is left from 1";
  EXPECT_EQ(rebuilt.back().first, 4);
}

}  // namespace
}  // namespace even::test
