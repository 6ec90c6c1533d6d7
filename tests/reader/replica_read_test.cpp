// even-reader on a primary and a semi-sync replica (issue 18): the reader's workers read from the
// replica, and a client's read after its append includes the append (read-your-writes): the
// client sends the append's global position with every read, and a reader whose replica has not
// applied it waits for it, or reads from the primary after --reader.replica-wait-ms.
//
// The replica is held behind by stopping its SQL thread: semi-sync (AFTER_SYNC) still
// acknowledges commits once the replica's relay log has them, so the append succeeds while the
// replica's tables do not have it yet.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "even/common/store/mysql.h"
#include "even/common/store/schema.h"
#include "reader_cluster.h"
#include "support/private_mariadb.h"

namespace even::test {
namespace {

client::NewEvent new_event() {
  client::NewEvent e;
  e.type = "Noted";
  e.payload = "{}";
  return e;
}

std::size_t count(const std::string& log, const std::string& what) {
  std::size_t n = 0;
  for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
  return n;
}

TEST(ReplicaRead, AReadAfterAnAppendIncludesItOnALaggingReplica) {
  PrivateMariaDb primary(ReplicationRole::primary);
  PrivateMariaDb replica(ReplicationRole::replica);
  replica.follow(primary);
  auto db = primary.options("even");
  store::init_store(db);
  db.url = primary.options().url + "," + replica.options().url;
  ReaderFlags flags;
  flags.extra = {"--reader.replica-wait-ms", "1500"};
  ReaderCluster cluster(flags, db);
  ASSERT_TRUE(cluster.reader().wait_for_log("reads from the replica " + replica.options().url, std::chrono::seconds(5)))
      << cluster.reader().log();

  auto rep = store::Connection::open(replica.options("even"));
  // No resends within a wait: each read below is one request (one wait, at most one fallback).
  auto options = cluster.client_options();
  options.resend_after = std::chrono::seconds(10);
  client::Client writer_client(options);
  client::Client stranger(cluster.client_options());  // has appended nothing: no position to demand

  // Caught up: the replica serves the read, with no wait and no fallback.
  auto first = writer_client.append("note-1", ExpectedVersion::any(), {new_event()});
  EXPECT_EQ(writer_client.stream_version("note-1"), StreamSeq(1));

  // Held behind: the append is acknowledged (semi-sync), the replica does not have it.
  rep->execute("STOP SLAVE SQL_THREAD");
  auto second = writer_client.append("note-1", ExpectedVersion::any(), {new_event()});
  ASSERT_GT(second.last_global_seq.value(), first.last_global_seq.value());
  EXPECT_EQ(stranger.stream_version("note-1"), StreamSeq(1)) << "the stranger's read was not served by the replica";
  // The writer's own client reads its append: from the primary, after the wait.
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(writer_client.stream_version("note-1"), StreamSeq(2));
  EXPECT_GE(std::chrono::steady_clock::now() - asked, std::chrono::milliseconds(1400));
  EXPECT_TRUE(cluster.reader().wait_for_log("reading from the primary", std::chrono::seconds(3)))
      << cluster.reader().log();

  // The replica catches up while the read waits: the replica serves it.
  auto third = writer_client.append("note-1", ExpectedVersion::any(), {new_event()});
  auto read = std::async(std::launch::async, [&] {
    std::vector<std::uint64_t> seqs;
    for (const auto& e : writer_client.read_stream("note-1", StreamSeq(1))) seqs.push_back(e.global_seq.value());
    return seqs;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rep->execute("START SLAVE SQL_THREAD");
  const auto seqs = read.get();
  ASSERT_EQ(seqs.size(), 3u);
  EXPECT_EQ(seqs.back(), third.last_global_seq.value());
  EXPECT_TRUE(cluster.reader().wait_for_log("waited for the replica", std::chrono::seconds(3)))
      << cluster.reader().log();
  EXPECT_EQ(count(cluster.reader().log(), "reading from the primary"), 1u) << cluster.reader().log();
}

}  // namespace
}  // namespace even::test
