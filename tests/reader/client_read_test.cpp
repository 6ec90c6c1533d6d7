// The client's read API against real even-writer and even-reader processes and the real MariaDB.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <random>
#include <thread>

#include "even/common/net.h"
#include "reader_cluster.h"

namespace even::test {
namespace {

using client::Direction;
using client::Filter;
using client::RecordedEvent;

std::vector<std::int64_t> stream_seqs(const std::vector<RecordedEvent>& events) {
  std::vector<std::int64_t> out;
  for (const auto& e : events) out.push_back(e.stream_seq.value());
  return out;
}

std::vector<std::uint64_t> global_seqs(const std::vector<RecordedEvent>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(e.global_seq.value());
  return out;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {  // inclusive, either direction
  std::vector<std::int64_t> out;
  if (from <= to)
    for (auto i = from; i <= to; ++i) out.push_back(i);
  else
    for (auto i = from; i >= to; --i) out.push_back(i);
  return out;
}

TEST(ClientRead, StreamForwardReturnsEveryFieldAsAppended) {
  ReaderCluster c;
  auto& cl = c.client();
  client::NewEvent a;
  a.type = "Opened";
  a.payload = "{\"owner\":\"ann\"}";
  a.metadata = "{\"corr\":1}";
  client::NewEvent b;
  b.type = "Blob";
  b.payload = std::string("\0\1\2bin", 6);
  b.format = client::PayloadFormat::binary;
  auto r = cl.append("account-1", ExpectedVersion::no_stream(), {a, b});

  auto events = cl.read_stream("account-1", StreamSeq(1)).to_vector();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, a.id);
  EXPECT_EQ(events[0].stream, "account-1");
  EXPECT_EQ(events[0].stream_seq, StreamSeq(1));
  EXPECT_EQ(events[0].global_seq, r.first_global_seq);
  EXPECT_EQ(events[0].type, "Opened");
  EXPECT_EQ(events[0].payload, a.payload);
  EXPECT_EQ(events[0].metadata, a.metadata);
  EXPECT_EQ(events[0].format, client::PayloadFormat::json);
  EXPECT_GT(events[0].created_at_us, 0);
  EXPECT_EQ(events[1].id, b.id);
  EXPECT_EQ(events[1].payload, b.payload);
  EXPECT_EQ(events[1].format, client::PayloadFormat::binary);
  EXPECT_EQ(events[1].global_seq, r.last_global_seq);
}

// evenctl read / read-all / head print what the client reads, one JSON object per line: JSON
// payloads embedded, UTF-8 text as a string, other bytes as base64.
TEST(ClientRead, EvenctlPrintsEventsAsJsonLines) {
  ReaderCluster c;
  auto& cl = c.client();
  client::NewEvent a;
  a.type = "Opened";
  a.payload = "{\"owner\":\"ann\"}";
  client::NewEvent b;
  b.type = "Blob";
  b.payload = std::string("\0\1\xff", 3);
  b.format = client::PayloadFormat::binary;
  auto r = cl.append("account-1", ExpectedVersion::no_stream(), {a, b});
  client::NewEvent placed;
  placed.type = "Placed";
  placed.payload = "{}";
  cl.append("order-1", ExpectedVersion::any(), {placed});

  auto lines = [&](std::vector<std::string> args) {
    args.insert(args.begin(), bin("tools/evenctl"));
    args.insert(args.end(), {"--reader-endpoint", c.reader_endpoint});
    std::string out;
    EXPECT_EQ(run_tool(args, &out), 0) << out;
    std::vector<nlohmann::json> parsed;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) parsed.push_back(nlohmann::json::parse(line));
    return parsed;
  };
  auto stream = lines({"read", "account-1"});
  ASSERT_EQ(stream.size(), 2u);
  EXPECT_EQ(stream[0]["stream"], "account-1");
  EXPECT_EQ(stream[0]["stream_seq"], 1);
  EXPECT_EQ(stream[0]["global_seq"], r.first_global_seq.value());
  EXPECT_EQ(stream[0]["type"], "Opened");
  EXPECT_EQ(stream[0]["event_id"], a.id.to_string());
  EXPECT_EQ(stream[0]["payload"]["owner"], "ann");
  EXPECT_EQ(stream[1]["payload"], "AAH/");
  EXPECT_EQ(stream[1]["payload_encoding"], "base64");

  auto all = lines({"read-all", "--from", "1", "--category", "order"});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["stream"], "order-1");
  EXPECT_EQ(lines({"read-all", "--type", "Blob"}).size(), 1u);
  auto head = lines({"head"});
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head[0]["head"], r.last_global_seq.value() + 1);

  std::string out;
  EXPECT_NE(run_tool({bin("tools/evenctl"), "read", "no-such-stream", "--reader-endpoint", c.reader_endpoint}, &out), 0)
      << out;
}

TEST(ClientRead, StreamShapesForwardBackwardFromAndMax) {
  ReaderCluster c;
  auto& cl = c.client();
  c.append_n("order-7", "Placed", 5);
  c.append_n("other-1", "Placed", 3);  // must not leak into order-7
  EXPECT_EQ(stream_seqs(cl.read_stream("order-7", StreamSeq(0)).to_vector()), range(1, 5));
  EXPECT_EQ(stream_seqs(cl.read_stream("order-7", StreamSeq(3)).to_vector()), range(3, 5));
  EXPECT_EQ(stream_seqs(cl.read_stream("order-7", StreamSeq(1), Direction::forward, 2).to_vector()), range(1, 2));
  EXPECT_EQ(stream_seqs(cl.read_stream("order-7", client::kStreamEnd, Direction::backward).to_vector()), range(5, 1));
  EXPECT_EQ(stream_seqs(cl.read_stream("order-7", StreamSeq(3), Direction::backward).to_vector()), range(3, 1));
  EXPECT_EQ(stream_seqs(cl.read_stream("order-7", client::kStreamEnd, Direction::backward, 2).to_vector()),
            range(5, 4));
  // Past the end: an existing stream gives an empty read, not an error.
  EXPECT_TRUE(cl.read_stream("order-7", StreamSeq(6)).to_vector().empty());
  EXPECT_TRUE(cl.read_stream("order-7", StreamSeq(0), Direction::backward).to_vector().empty());
  // max_count 0 reads nothing and asks nothing.
  EXPECT_TRUE(cl.read_stream("no-such", StreamSeq(1), Direction::forward, 0).to_vector().empty());
  // Range-for works.
  std::int64_t expect = 1;
  for (const auto& e : cl.read_stream("order-7", StreamSeq(1))) EXPECT_EQ(e.stream_seq.value(), expect++);
  EXPECT_EQ(expect, 6);
}

TEST(ClientRead, MissingStreamsAndBadRequests) {
  ReaderCluster c;
  auto& cl = c.client();
  EXPECT_THROW(cl.read_stream("nobody-1", StreamSeq(1)), client::NotFound);
  EXPECT_THROW(cl.read_stream("nobody-1", client::kStreamEnd, Direction::backward), client::NotFound);
  EXPECT_EQ(cl.stream_version("nobody-1"), std::nullopt);
  EXPECT_THROW(cl.read_stream("", StreamSeq(1)), client::InvalidRequest);
  EXPECT_THROW(cl.read_stream("bad stream name", StreamSeq(1)), client::InvalidRequest);
  EXPECT_THROW(cl.read_stream("$system", StreamSeq(1)), client::InvalidRequest);
  EXPECT_THROW(cl.read_stream("a-1", StreamSeq(-1)), client::InvalidRequest);
  EXPECT_THROW(cl.stream_version(std::string(300, 'x')), client::InvalidRequest);
  EXPECT_THROW(cl.read_all(GlobalSeq(0), Filter{{"has-dash"}, {}}), client::InvalidRequest);
  EXPECT_THROW(cl.read_all(GlobalSeq(0), Filter{{}, {"1bad type"}}), client::InvalidRequest);
  try {
    cl.read_stream("nobody-1", StreamSeq(1));
    FAIL() << "no NotFound";
  } catch (const client::NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("nobody-1"), std::string::npos) << e.what();
  }
}

TEST(ClientRead, EmptyStoreHeadAndVersions) {
  ReaderCluster c;
  auto& cl = c.client();
  EXPECT_EQ(cl.head(), GlobalSeq(0));
  EXPECT_TRUE(cl.read_all(GlobalSeq(0)).to_vector().empty());
  EXPECT_TRUE(cl.read_all(GlobalSeq(1), Filter{{"account"}, {"Opened"}}).to_vector().empty());
  auto page = cl.read_all_page_async(GlobalSeq(1)).get();
  EXPECT_TRUE(page.end);
  EXPECT_EQ(page.head, GlobalSeq(0));

  auto r = c.append_n("account-1", "Opened", 3);
  c.append_n("account-2", "Opened", 2);
  EXPECT_EQ(cl.stream_version("account-1"), StreamSeq(3));
  EXPECT_EQ(cl.stream_version("account-2"), StreamSeq(2));
  EXPECT_EQ(cl.stream_version_async("account-3").get(), std::nullopt);
  auto head = cl.head();
  EXPECT_EQ(head.value(), static_cast<std::uint64_t>(c.store.scalar("SELECT MAX(global_seq) FROM events")));
  EXPECT_EQ(cl.head_async().get(), head);
  auto stream = cl.read_all(GlobalSeq(0));
  auto all = stream.to_vector();
  EXPECT_TRUE(stream.reached_end());
  EXPECT_EQ(stream.head(), head);
  auto capped = cl.read_all(GlobalSeq(0), {}, 2);
  EXPECT_EQ(capped.to_vector().size(), 2u);
  EXPECT_FALSE(capped.reached_end());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.back().global_seq, head);
  EXPECT_EQ(all.front().global_seq, r.front().first_global_seq);
}

TEST(ClientRead, PagingAcrossPageBoundaries) {
  ReaderCluster c(ReaderFlags{{"--reader.page-max-events", "7"}});
  auto& cl = c.client();
  // Interleave streams so global order differs from any one stream's order.
  for (int round = 0; round < 5; ++round) {
    c.append_n("cart-" + std::to_string(round % 3), "Added", 9);
    c.append_n("user-" + std::to_string(round % 2), "Seen", 4);
  }
  const auto expected_total = static_cast<std::size_t>(c.store.scalar("SELECT COUNT(*) FROM events"));
  ASSERT_EQ(expected_total, 65u);

  auto all = cl.read_all(GlobalSeq(1)).to_vector();
  ASSERT_EQ(all.size(), expected_total);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.global_seq < b.global_seq; }));
  auto seqs = global_seqs(all);
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end()) << "an event came twice";

  // From the middle (inclusive), with every count around the page size.
  const auto mid = all[20].global_seq;
  auto tail = cl.read_all(mid).to_vector();
  ASSERT_EQ(tail.size(), expected_total - 20);
  EXPECT_EQ(tail.front().global_seq, mid);
  for (std::size_t max : {1u, 6u, 7u, 8u, 14u, 15u, 64u, 65u, 66u})
    EXPECT_EQ(cl.read_all(GlobalSeq(1), {}, max).to_vector().size(), std::min<std::size_t>(max, expected_total)) << max;

  // One page at a time: at most 7 events, then continue from next_global_seq.
  auto page = cl.read_all_page_async(GlobalSeq(1)).get();
  EXPECT_EQ(page.events.size(), 7u);
  EXPECT_FALSE(page.end);
  EXPECT_EQ(page.next_global_seq, page.events.back().global_seq.next());
  auto page2 = cl.read_all_page_async(page.next_global_seq, {}, 3).get();
  ASSERT_EQ(page2.events.size(), 3u);
  EXPECT_EQ(page2.events[0].global_seq, all[7].global_seq);

  // A stream longer than several pages, both ways.
  EXPECT_EQ(stream_seqs(cl.read_stream("cart-0", StreamSeq(1)).to_vector()), range(1, 18));
  EXPECT_EQ(stream_seqs(cl.read_stream("cart-0", client::kStreamEnd, Direction::backward).to_vector()), range(18, 1));
  EXPECT_EQ(stream_seqs(cl.read_stream("cart-0", StreamSeq(10), Direction::backward, 8).to_vector()), range(10, 3));
  auto sp = cl.read_stream_page_async("cart-0", StreamSeq(18), Direction::backward).get();
  EXPECT_EQ(stream_seqs(sp.events), range(18, 12));
  EXPECT_EQ(sp.next_stream_seq, StreamSeq(11));
}

TEST(ClientRead, PagesAreBoundedByBytes) {
  ReaderCluster c(ReaderFlags{{"--reader.page-max-bytes", "4096"}});
  auto& cl = c.client();
  std::vector<client::NewEvent> big;
  for (int i = 0; i < 20; ++i) {
    client::NewEvent e;
    e.type = "Big";
    e.payload = "\"" + std::string(1000, static_cast<char>('a' + i)) + "\"";
    big.push_back(e);
  }
  client::NewEvent huge;  // larger than a page: still delivered, alone
  huge.type = "Huge";
  huge.payload = "\"" + std::string(10000, 'h') + "\"";
  big.push_back(huge);
  cl.append("blob-1", ExpectedVersion::any(), big);
  auto first = cl.read_all_page_async(GlobalSeq(1)).get();
  EXPECT_GE(first.events.size(), 2u);
  EXPECT_LE(first.events.size(), 4u);
  auto events = cl.read_stream("blob-1", StreamSeq(1)).to_vector();
  ASSERT_EQ(events.size(), 21u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(events[i].payload, big[i].payload);
  EXPECT_EQ(events[20].payload, huge.payload);
  auto last = cl.read_stream_page_async("blob-1", StreamSeq(21)).get();
  EXPECT_EQ(last.events.size(), 1u);
}

// Read-all guesses where the page after next starts (exact for dense positions); holes in the
// global order and pages cut by bytes make the guesses wrong, and the read must stay exact.
TEST(ClientRead, ReadAllIsExactWithHolesAndPagesCutByBytes) {
  ReaderCluster c(ReaderFlags{{"--reader.page-max-events", "7", "--reader.page-max-bytes", "4096"}});
  auto& cl = c.client();
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    std::vector<client::NewEvent> batch;
    for (int k = 0; k < 10; ++k) {
      client::NewEvent e;
      e.type = k % 3 == 0 ? "Rare" : "Common";
      e.payload = "\"" + std::string(rng() % 4 == 0 ? 1500 + rng() % 1000 : 10 + rng() % 50, 'p') + "\"";
      batch.push_back(std::move(e));
    }
    cl.append(round % 2 ? "even-" + std::to_string(round % 5) : "odd-" + std::to_string(round % 3),
              ExpectedVersion::any(), batch);
  }
  // Holes, as rolled-back transactions leave them: single ids and long runs.
  auto admin = c.store.connect();
  admin->execute("DELETE FROM events WHERE global_seq % 13 = 0 OR global_seq BETWEEN 100 AND 140 OR "
                 "global_seq BETWEEN 200 AND 203");
  auto expected_for = [&](const std::string& where, std::uint64_t from) {
    std::vector<std::uint64_t> out;
    auto rs = admin->query("SELECT global_seq FROM events WHERE global_seq >= " + std::to_string(from) + where +
                           " ORDER BY global_seq");
    while (rs->next()) out.push_back(rs->getUInt64(1));
    return out;
  };
  for (std::uint64_t from : {0, 1, 2, 13, 14, 95, 99, 141, 199, 250, 400}) {
    EXPECT_EQ(global_seqs(cl.read_all(GlobalSeq(from)).to_vector()), expected_for("", from)) << from;
    EXPECT_EQ(global_seqs(cl.read_all(GlobalSeq(from), Filter{{}, {"Rare"}}).to_vector()),
              expected_for(" AND event_type = 'Rare'", from))
        << from;
    EXPECT_EQ(global_seqs(cl.read_all(GlobalSeq(from), Filter{{"even"}, {}}).to_vector()),
              expected_for(" AND category = 'even'", from))
        << from;
  }
  for (std::size_t max : {1u, 7u, 8u, 50u, 123u}) {
    auto want = expected_for("", 1);
    want.resize(std::min(max, want.size()));
    EXPECT_EQ(global_seqs(cl.read_all(GlobalSeq(1), {}, max).to_vector()), want) << max;
  }
}

TEST(ClientRead, FiltersByCategoryAndType) {
  ReaderCluster c(ReaderFlags{{"--reader.page-max-events", "5"}});
  auto& cl = c.client();
  for (int round = 0; round < 4; ++round) {
    c.append_n("account-" + std::to_string(round), "Deposited", 3);
    c.append_n("account-" + std::to_string(round), "Withdrawn", 2);
    c.append_n("order-" + std::to_string(round), "Placed", 2);
    c.append_n("order-" + std::to_string(round), "Deposited", 1);  // same type, other category
    c.append_n("audit", "Deposited", 1);                            // a stream without '-'
  }
  const auto all = cl.read_all(GlobalSeq(1)).to_vector();
  ASSERT_EQ(all.size(), 36u);
  auto expect = [&](const Filter& f) {
    std::vector<std::uint64_t> out;
    for (const auto& e : all) {
      auto cat = std::string(category_of(e.stream));
      bool c_ok = f.categories.empty() || std::count(f.categories.begin(), f.categories.end(), cat);
      bool t_ok = f.event_types.empty() || std::count(f.event_types.begin(), f.event_types.end(), e.type);
      if (c_ok && t_ok) out.push_back(e.global_seq.value());
    }
    return out;
  };
  const std::vector<Filter> filters = {
      {{"account"}, {}},
      {{"order"}, {}},
      {{"audit"}, {}},
      {{"account", "order"}, {}},
      {{}, {"Deposited"}},
      {{}, {"Withdrawn", "Placed"}},
      {{"account"}, {"Deposited"}},
      {{"account", "audit"}, {"Deposited", "Placed"}},
      {{"nothing"}, {}},
      {{"account", "account"}, {"Deposited", "Deposited"}},  // duplicates do not double events
  };
  for (const auto& f : filters) {
    auto got = global_seqs(cl.read_all(GlobalSeq(1), f).to_vector());
    EXPECT_EQ(got, expect(f)) << "filter " << ::testing::PrintToString(f.categories) << " "
                              << ::testing::PrintToString(f.event_types);
    if (f.categories == std::vector<std::string>{"nothing"}) {
      EXPECT_TRUE(got.empty());
      continue;
    }
    ASSERT_FALSE(got.empty());
    // From the middle of the matches, inclusive.
    auto from = GlobalSeq(got[got.size() / 2]);
    auto tail = global_seqs(cl.read_all(from, f).to_vector());
    EXPECT_EQ(tail, std::vector<std::uint64_t>(got.begin() + static_cast<long>(got.size() / 2), got.end()));
  }
}

TEST(ClientRead, ReaderRestartedInTheMiddleOfAPagedRead) {
  ReaderCluster c(ReaderFlags{{"--reader.page-max-events", "5"}});
  auto& cl = c.client();
  c.append_n("flow-1", "Tick", 150);
  c.append_n("flow-2", "Tock", 50);
  auto stream = cl.read_all(GlobalSeq(1));
  std::vector<std::uint64_t> seen;
  std::thread restarter;
  while (const auto* e = stream.next()) {
    seen.push_back(e->global_seq.value());
    if (seen.size() == 42) {
      c.kill_reader();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the client resends into the void
      c.start_reader();
    }
    if (seen.size() == 118) {  // and once more, restarted a while later while the read waits for it
      c.kill_reader();
      restarter = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        c.start_reader();
      });
    }
  }
  restarter.join();
  ASSERT_EQ(seen.size(), 200u);
  auto expected = global_seqs(cl.read_all(GlobalSeq(1)).to_vector());
  EXPECT_EQ(seen, expected);

  // The same for a stream read.
  auto s = cl.read_stream("flow-1", StreamSeq(1));
  std::vector<std::int64_t> got;
  while (const auto* e = s.next()) {
    got.push_back(e->stream_seq.value());
    if (got.size() == 13) {
      c.kill_reader();
      c.start_reader();
    }
  }
  EXPECT_EQ(got, range(1, 150));
}

TEST(ClientRead, StoreConnectionKilledIsReconnectedAndRetried) {
  ReaderCluster c;
  auto& cl = c.client();
  c.append_n("conn-1", "Tick", 10);
  ASSERT_EQ(cl.read_stream("conn-1", StreamSeq(1)).to_vector().size(), 10u);
  // Kill every store connection of the reader (its workers'), but not the writer's master session.
  auto admin = store::Connection::open(c.store.db(), false);
  auto rs = admin->query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" + c.store.db().name +
                         "' AND ID <> CONNECTION_ID() AND ID <> (SELECT IFNULL(IS_USED_LOCK(CONCAT('even-writer:', '" +
                         c.store.db().name + "')), 0))");
  std::vector<std::int64_t> ids;
  while (rs->next()) ids.push_back(rs->getInt64(1));
  ASSERT_FALSE(ids.empty());
  for (auto id : ids) {
    try {
      admin->execute("KILL CONNECTION " + std::to_string(id));
    } catch (const sql::SQLException&) {
    }
  }
  for (int i = 0; i < 4; ++i) {  // every worker meets its dead connection once
    EXPECT_EQ(cl.read_stream("conn-1", StreamSeq(1)).to_vector().size(), 10u);
    EXPECT_EQ(cl.stream_version("conn-1"), StreamSeq(10));
  }
  EXPECT_NE(c.reader().log().find("reconnecting and retrying"), std::string::npos) << c.reader().log();
}

TEST(ClientRead, StoreUnreachableIsUnavailable) {
  ReaderCluster c;
  // A second reader pointed at a port where no store listens.
  auto endpoint = loopback_endpoint();
  auto db = c.store.db();
  db.url = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  std::vector<std::string> argv = {bin("services/reader/even-reader"), "--reader-endpoint", endpoint,
                                   "--db-connect-timeout", "1"};
  for (auto& f : db_flags(db)) argv.push_back(f);
  Process reader(argv, "/tmp/even-reader-test-unreachable-" + std::to_string(::getpid()) + ".log");
  ASSERT_TRUE(reader.wait_for_log("serving reads", std::chrono::seconds(20))) << reader.log();
  auto co = c.client_options();
  co.reader_endpoint = endpoint;
  client::Client cl(co);
  try {
    cl.head();
    FAIL() << "no Unavailable";
  } catch (const client::Unavailable& e) {
    EXPECT_EQ(e.code(), client::ErrorCode::unavailable);
    EXPECT_NE(std::string(e.what()).find("cannot be reached"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cl.read_all(GlobalSeq(1)), client::Unavailable);
  reader.signal(SIGTERM);
  EXPECT_EQ(reader.wait(std::chrono::seconds(10)), 0);
}

TEST(ClientRead, ConcurrentReadersShareTheWorkerPool) {
  ReaderCluster c(ReaderFlags{{"--reader.page-max-events", "16"}});
  c.append_n("busy-1", "Tick", 300);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      client::Client cl(c.client_options());
      for (int i = 0; i < 3; ++i)
        if (cl.read_all(GlobalSeq(1)).to_vector().size() == 300 &&
            cl.read_stream("busy-1", client::kStreamEnd, Direction::backward).to_vector().size() == 300)
          ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 18);
}

}  // namespace
}  // namespace even::test
