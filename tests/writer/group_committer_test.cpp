// GroupCommitter against the real MariaDB, in process: the decisions of one batch.
#include "writer/group_committer.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "even/common/store/schema.h"
#include "support/test_env.h"

namespace even::writer {
namespace {

AppendCommand cmd(const std::string& stream, ExpectedVersion ex, int n, std::vector<EventId> ids = {}) {
  AppendCommand c;
  c.stream = stream;
  c.expected = ex;
  for (int i = 0; i < n; ++i) {
    NewEvent e;
    if (i < static_cast<int>(ids.size())) e.id = ids[static_cast<std::size_t>(i)];
    e.type = "Tested";
    e.payload = "{\"i\":" + std::to_string(i) + "}";
    e.format = PayloadFormat::json;
    c.events.push_back(std::move(e));
  }
  return c;
}

class GroupCommitterTest : public ::testing::Test {
 protected:
  test::TestStore store;
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  GroupCommitter committer{store.db(), CommitterOptions{}, log};
  void SetUp() override { ASSERT_TRUE(committer.start([] { return false; })); }
  std::vector<AppendOutcome> commit(std::vector<AppendCommand> batch, std::vector<RecordedEvent>* out = nullptr) {
    return committer.commit(batch, out, [] { return false; });
  }
};

TEST_F(GroupCommitterTest, MixedBatchFailsOnlyTheBadRequests) {
  auto first = commit({cmd("s-1", ExpectedVersion::no_stream(), 2)});
  ASSERT_TRUE(first[0].ok()) << first[0].message;

  auto taken = EventId::random();
  ASSERT_TRUE(commit({cmd("s-9", ExpectedVersion::any(), 1, {taken})})[0].ok());

  std::vector<RecordedEvent> committed;
  auto out = commit({cmd("s-1", ExpectedVersion::exact(2), 1),        // ok -> 3
                     cmd("s-1", ExpectedVersion::exact(2), 1),        // conflict: now 3
                     cmd("s-2", ExpectedVersion::exists(), 1),        // conflict: no stream
                     cmd("s-3", ExpectedVersion::any(), 3),           // ok
                     cmd("s-4", ExpectedVersion::any(), 1, {taken}),  // duplicate of s-9's event
                     cmd("s-1", ExpectedVersion::any(), 2)},          // ok -> 4..5
                    &committed);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_TRUE(out[0].ok());
  EXPECT_EQ(out[0].first_seq.value(), 3);
  EXPECT_EQ(out[1].error, schema::ErrorCode::WRONG_EXPECTED_VERSION);
  EXPECT_EQ(out[1].current_version, 3);
  EXPECT_EQ(out[2].error, schema::ErrorCode::WRONG_EXPECTED_VERSION);
  EXPECT_EQ(out[2].current_version, -1);
  EXPECT_TRUE(out[3].ok());
  EXPECT_EQ(out[3].first_seq.value(), 1);
  EXPECT_EQ(out[3].last_seq.value(), 3);
  EXPECT_EQ(out[4].error, schema::ErrorCode::DUPLICATE_EVENT);
  EXPECT_TRUE(out[5].ok());
  EXPECT_EQ(out[5].first_seq.value(), 4);
  EXPECT_EQ(out[5].last_seq.value(), 5);
  // Global positions are consecutive in batch order, and match the store.
  EXPECT_EQ(out[3].first_global.value(), out[0].last_global.value() + 1);
  EXPECT_EQ(out[5].first_global.value(), out[3].last_global.value() + 1);
  ASSERT_EQ(committed.size(), 6u);
  for (std::size_t i = 1; i < committed.size(); ++i)
    EXPECT_EQ(committed[i].global_seq.value(), committed[i - 1].global_seq.value() + 1);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 2 + 1 + 6);
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 's-1'"), 5);
  // One streams row for each stream created (s-1, s-9, s-3), none for the refused s-2 and s-4.
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM streams"), 3);
  EXPECT_EQ(store.scalar("SELECT global_seq FROM events WHERE stream = 's-1' AND stream_seq = 5"),
            static_cast<std::int64_t>(out[5].last_global.value()));
}

TEST_F(GroupCommitterTest, RetryInTheSameBatchIsIdempotent) {
  auto a = cmd("s-1", ExpectedVersion::no_stream(), 2);
  auto out = commit({a, a});
  ASSERT_TRUE(out[0].ok());
  ASSERT_TRUE(out[1].ok()) << out[1].message;
  EXPECT_TRUE(out[1].idempotent);
  EXPECT_EQ(out[1].first_global, out[0].first_global);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 2);
}

TEST_F(GroupCommitterTest, RetryInALaterBatchReturnsTheOriginalPositions) {
  auto a = cmd("s-1", ExpectedVersion::no_stream(), 3);
  auto first = commit({a})[0];
  ASSERT_TRUE(first.ok());
  commit({cmd("s-1", ExpectedVersion::any(), 1)});
  for (auto ex : {ExpectedVersion::no_stream(), ExpectedVersion::any()}) {
    a.expected = ex;
    auto again = commit({a})[0];
    ASSERT_TRUE(again.ok()) << again.message;
    EXPECT_TRUE(again.idempotent);
    EXPECT_EQ(again.first_seq, first.first_seq);
    EXPECT_EQ(again.last_global, first.last_global);
  }
  // Same ids, but claimed at another position: not a retry.
  a.expected = ExpectedVersion::exact(1);
  EXPECT_EQ(commit({a})[0].error, schema::ErrorCode::DUPLICATE_EVENT);
  // Partial overlap.
  auto partial = cmd("s-1", ExpectedVersion::any(), 2, {a.events[0].id});
  EXPECT_EQ(commit({partial})[0].error, schema::ErrorCode::DUPLICATE_EVENT);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 4);
}

TEST_F(GroupCommitterTest, AnotherProcessWritingIsCaughtByTheUniqueKey) {
  ASSERT_TRUE(commit({cmd("s-1", ExpectedVersion::no_stream(), 1)})[0].ok());
  // Behind the writer's back (its version cache says 1):
  auto c = store.connect();
  c->execute(
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (X'00112233445566778899aabbccddeeff', 's-1', 2, 's', 'Other', 0, '', '', 0)");
  auto out = commit({cmd("s-1", ExpectedVersion::exact(1), 1), cmd("s-5", ExpectedVersion::any(), 1)});
  EXPECT_FALSE(out[0].ok());
  EXPECT_TRUE(out[1].ok()) << out[1].message;
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 's-1'"), 2);
  // After the failure the cache was dropped: the next append sees version 2.
  auto next = commit({cmd("s-1", ExpectedVersion::exact(2), 1)})[0];
  EXPECT_TRUE(next.ok()) << next.message;
  EXPECT_EQ(next.first_seq.value(), 3);
}

// Issue 12.3: one row inserted into `events` behind the writer's back, into a stream whose version
// it caches, with `streams` left as it was. Before the fix every later append to the stream failed
// with "conflicting write by another process" (the redo read the same stale version from
// `streams`).
TEST(GroupCommitterRecovery, ForeignInsertIntoACachedStreamIsRepairedAndDecidedAgain) {
  test::TestStore store;
  std::ostringstream log_text;
  auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text));
  GroupCommitter committer{store.db(), CommitterOptions{}, log};
  ASSERT_TRUE(committer.start([] { return false; }));
  auto commit = [&](std::vector<AppendCommand> batch) { return committer.commit(batch, nullptr, [] { return false; }); };
  ASSERT_TRUE(commit({cmd("s-1", ExpectedVersion::no_stream(), 1), cmd("s-2", ExpectedVersion::no_stream(), 1)})[0].ok());
  auto foreign = [&](const std::string& stream, int seq, const std::string& hex_id) {
    store.connect()->execute(
        "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
        "payload_format) VALUES (X'" + hex_id + "', '" + stream + "', " + std::to_string(seq) +
        ", 's', 'Foreign', 0, '', '', 0)");
  };
  foreign("s-1", 2, "00112233445566778899aabbccddee01");
  foreign("s-2", 2, "00112233445566778899aabbccddee02");

  // An exact expected version is now a normal conflict, with the version the store holds.
  auto exact = commit({cmd("s-1", ExpectedVersion::exact(1), 1), cmd("s-3", ExpectedVersion::any(), 1)});
  EXPECT_EQ(exact[0].error, schema::ErrorCode::WRONG_EXPECTED_VERSION) << exact[0].message;
  EXPECT_EQ(exact[0].current_version, 2);
  EXPECT_TRUE(exact[1].ok()) << exact[1].message;
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 's-1'"), 2);

  // `any` succeeds, at the next free sequence (the stream the exact append did not touch).
  auto any = commit({cmd("s-2", ExpectedVersion::any(), 2)})[0];
  ASSERT_TRUE(any.ok()) << any.message;
  EXPECT_EQ(any.first_seq.value(), 3);
  EXPECT_EQ(any.last_seq.value(), 4);
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 's-2'"), 4);
  // And the exact append with the right version goes through; nothing is stuck.
  auto next = commit({cmd("s-1", ExpectedVersion::exact(2), 1)})[0];
  ASSERT_TRUE(next.ok()) << next.message;
  EXPECT_EQ(next.first_seq.value(), 3);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 's-1'"), 3);

  const std::string text = log_text.str();
  for (std::string stream : {"s-1", "s-2"}) {
    auto at = text.find("stream '" + stream + "' is at version 2 in the events table");
    ASSERT_NE(at, std::string::npos) << text;
    auto line_start = text.rfind('\n', at);
    std::string line = text.substr(line_start == std::string::npos ? 0 : line_start + 1, at - line_start);
    EXPECT_NE(line.find("[warning]"), std::string::npos) << line;
  }
}

// The versions live only in `events`: a writer started afresh (a restart, a standby taking over)
// has an empty cache and must decide every kind of expected version from MAX(stream_seq) alone,
// and find the appends of the previous master by their ids.
TEST(GroupCommitterRecovery, ANewTermDecidesExpectedVersionsFromTheEvents) {
  test::TestStore store;
  auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto never = [] { return false; };
  auto last = cmd("s-1", ExpectedVersion::exact(2), 1);
  AppendOutcome last_outcome;
  {
    GroupCommitter first{store.db(), CommitterOptions{}, log};
    ASSERT_TRUE(first.start(never));
    std::vector<AppendCommand> batch = {cmd("s-1", ExpectedVersion::no_stream(), 2),
                                        cmd("s-2", ExpectedVersion::any(), 1)};
    ASSERT_TRUE(first.commit(batch, nullptr, never)[0].ok());
    std::vector<AppendCommand> one = {last};
    last_outcome = first.commit(one, nullptr, never)[0];
    ASSERT_TRUE(last_outcome.ok()) << last_outcome.message;
  }  // its connection closes: the lock is free, its cache gone

  GroupCommitter second{store.db(), CommitterOptions{}, log};
  ASSERT_TRUE(second.start(never));
  std::vector<AppendCommand> batch = {
      cmd("s-1", ExpectedVersion::exact(2), 1),    // stale: s-1 is at 3
      cmd("s-1", ExpectedVersion::no_stream(), 1),  // s-1 exists
      cmd("s-2", ExpectedVersion::exact(1), 1),    // ok -> 2
      cmd("s-3", ExpectedVersion::exists(), 1),    // no such stream
      cmd("s-4", ExpectedVersion::no_stream(), 1),  // ok -> 1
      last,                                         // the previous master's append, resent
      cmd("s-1", ExpectedVersion::exact(3), 2),    // ok -> 4..5
  };
  auto out = second.commit(batch, nullptr, never);
  EXPECT_EQ(out[0].error, schema::ErrorCode::WRONG_EXPECTED_VERSION);
  EXPECT_EQ(out[0].current_version, 3);
  EXPECT_EQ(out[1].error, schema::ErrorCode::WRONG_EXPECTED_VERSION);
  EXPECT_EQ(out[1].current_version, 3);
  ASSERT_TRUE(out[2].ok()) << out[2].message;
  EXPECT_EQ(out[2].first_seq.value(), 2);
  EXPECT_EQ(out[3].error, schema::ErrorCode::WRONG_EXPECTED_VERSION);
  EXPECT_EQ(out[3].current_version, -1);
  ASSERT_TRUE(out[4].ok()) << out[4].message;
  EXPECT_EQ(out[4].first_seq.value(), 1);
  ASSERT_TRUE(out[5].ok()) << out[5].message;
  EXPECT_TRUE(out[5].idempotent);
  EXPECT_EQ(out[5].first_global, last_outcome.first_global);
  EXPECT_EQ(out[5].first_seq.value(), 3);
  ASSERT_TRUE(out[6].ok()) << out[6].message;
  EXPECT_EQ(out[6].first_seq.value(), 4);
  EXPECT_EQ(out[6].last_seq.value(), 5);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 4 + 1 + 1 + 2);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM streams"), 3);  // s-1, s-2, s-4
}

// A store made by a writer of schema version 2 (stream versions kept in streams.version) is
// upgraded in place, and appends go on at the versions its events hold.
TEST(GroupCommitterRecovery, AStoreOfSchemaVersion2IsUpgradedAndItsVersionsKept) {
  test::TestStore store(/*init=*/false);
  auto c = store.connect();
  c->execute("CREATE TABLE even_meta (k VARCHAR(64) NOT NULL PRIMARY KEY, v VARCHAR(255) NOT NULL) ENGINE=InnoDB");
  for (const auto& m : store::migrations())
    if (m.version <= 2)
      for (const auto& stmt : m.statements) c->execute(stmt);
  c->execute("INSERT INTO even_meta VALUES ('schema_version', '2')");
  c->execute(
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (X'00112233445566778899aabbccddee01', 'old-1', 1, 'old', 'T', 0, '', '', 0), "
      "(X'00112233445566778899aabbccddee02', 'old-1', 2, 'old', 'T', 0, '', '', 0)");
  c->execute("INSERT INTO streams (stream, version, updated_at_us) VALUES ('old-1', 2, 0)");

  auto r = store::init_store(store.db());
  EXPECT_EQ(r.from_version, 2);
  EXPECT_EQ(r.to_version, store::latest_schema_version());
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                         "TABLE_NAME = 'streams' AND COLUMN_NAME = 'version'"),
            0);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM streams WHERE stream = 'old-1'"), 1);

  auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  GroupCommitter committer{store.db(), CommitterOptions{}, log};
  auto never = [] { return false; };
  ASSERT_TRUE(committer.start(never));
  std::vector<AppendCommand> batch = {cmd("old-1", ExpectedVersion::exact(2), 1),
                                      cmd("new-1", ExpectedVersion::no_stream(), 1)};
  auto out = committer.commit(batch, nullptr, never);
  ASSERT_TRUE(out[0].ok()) << out[0].message;
  EXPECT_EQ(out[0].first_seq.value(), 3);
  ASSERT_TRUE(out[1].ok()) << out[1].message;
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM streams"), 2);
}

TEST_F(GroupCommitterTest, SecondCommitterIsRefusedTheMasterLock) {
  CommitterOptions o;
  o.standby = false;
  GroupCommitter second(store.db(), o, log);
  EXPECT_THROW(second.start([] { return false; }), NotMaster);
  CommitterOptions waiting;
  GroupCommitter standby(store.db(), waiting, log);
  int polls = 0;
  EXPECT_FALSE(standby.start([&] { return ++polls > 2; }));  // waited, then gave up when told
}

}  // namespace
}  // namespace even::writer
