// StoreReads (services/reader/store_reads.h) against the real MariaDB: how many rows a page query
// asks the server for, that pages sized from the row-size hint still deliver every event once,
// and that read-all and projection pages filtered with a LifecycleCache are what the joined query
// returns.
//
// A streamed result cannot be abandoned part way: rows a query asked for but the page had no room
// for are still sent by the server and drained. The server's own count of rows it sent (session
// status Rows_sent) shows what a page really cost.
#include <gtest/gtest.h>

#include <capnp/message.h>

#include <set>

#include "even/common/store/mysql.h"
#include "even/common/store/schema.h"
#include "reader/store_reads.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using reader::LifecycleCache;
using reader::PageLimits;
using reader::StoreReads;

// Appends `n` events of `payload_bytes` to stream `stream` (stream_seq 1..n) with plain INSERTs.
void insert_events(store::Connection& conn, const std::string& stream, int n, std::size_t payload_bytes) {
  for (int i = 1; i <= n; ++i) {
    std::string sql =
        "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
        "payload_format) VALUES (UNHEX(MD5('" + stream + std::to_string(i) + "')), '" + stream + "', " +
        std::to_string(i) + ", 'blob', 'Blob', 0, '', ";
    store::append_quoted(sql, std::string(payload_bytes, 'p'));
    sql += ", 2)";
    conn.execute(sql);
  }
}

std::int64_t rows_sent(store::Connection& conn) {
  auto rs = conn.query("SHOW SESSION STATUS LIKE 'Rows_sent'");
  if (!rs->next()) throw std::runtime_error("no Rows_sent status");
  return std::stoll(std::string(rs->getString(2)));
}

// Rows the server sent for `read()`, on `conn` (the status query's own row is calibrated away).
template <typename F>
std::int64_t rows_sent_by(store::Connection& conn, F&& read) {
  const auto before = rows_sent(conn);
  const auto start = rows_sent(conn);
  const auto calibration = start - before;
  read();
  return rows_sent(conn) - start - calibration;
}

// The limits a worker uses after a page of `hint`-byte events (0: none yet).
PageLimits hinted(PageLimits limits, std::size_t hint) {
  limits.max_events = reader::rows_to_ask(limits, hint);
  return limits;
}

TEST(StoreReads, RowsToAskFollowsTheHint) {
  EXPECT_EQ(reader::rows_to_ask(PageLimits{1000, 1u << 20}, 0), 1000u);        // nothing known: the count limit
  EXPECT_EQ(reader::rows_to_ask(PageLimits{10000, 1u << 20}, 0), reader::kFirstPageRows);  // ... up to a first page
  EXPECT_EQ(reader::rows_to_ask(PageLimits{1000, 16384}, 2048), 8u);           // what fits by bytes
  EXPECT_EQ(reader::rows_to_ask(PageLimits{1000, 16384}, 100000), 1u);         // one event always fits
  EXPECT_EQ(reader::rows_to_ask(PageLimits{1000, 1u << 20}, 100), 1000u);      // small rows: the count limit
  EXPECT_EQ(reader::rows_to_ask(PageLimits{5, 1u << 20}, 2048), 5u);           // a client's max_count
}

// With large events and a small byte limit, a page asked for max_events rows drains most of them;
// with the hint of the previous page it asks for about what fits.
TEST(StoreReads, PagesOfLargeEventsAskForWhatFits) {
  TestStore store;
  auto conn = store.connect();
  insert_events(*conn, "blob-1", 300, 2000);
  StoreReads reads(*conn);

  const PageLimits configured{1000, 16384};
  capnp::MallocMessageBuilder first_msg;
  reader::Page first;
  const auto first_cost = rows_sent_by(
      *conn, [&] { first = reads.read_all({GlobalSeq(1), {}, {}}, configured, first_msg.getOrphanage()); });
  ASSERT_GT(first.count, 0u);
  ASSERT_LT(first.count, 10u);
  EXPECT_EQ(first_cost, 300);  // asked for 1001 rows: all 300 were sent, most of them drained

  const PageLimits limits = hinted(configured, first.bytes / first.count);
  capnp::MallocMessageBuilder second_msg;
  reader::Page second;
  const auto second_cost = rows_sent_by(
      *conn, [&] { second = reads.read_all({first.next_global_seq, {}, {}}, limits, second_msg.getOrphanage()); });
  EXPECT_EQ(second.count, first.count);
  EXPECT_LE(second_cost, static_cast<std::int64_t>(second.count) + 1);
  EXPECT_FALSE(second.end);
}

// Reading everything page by page, each page sized by the hint of the one before, as a worker
// does: every event once, in order, across pages cut by count and by bytes.
TEST(StoreReads, HintedPagesDeliverEveryEventOnce) {
  TestStore store;
  auto conn = store.connect();
  insert_events(*conn, "small-1", 50, 10);
  insert_events(*conn, "large-1", 40, 3000);
  insert_events(*conn, "small-2", 60, 20);
  StoreReads reads(*conn);

  const PageLimits configured{25, 8192};
  PageLimits limits = hinted(configured, 0);
  GlobalSeq from(1);
  std::vector<std::uint64_t> seen;
  std::int64_t total_sent = 0;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 200) << "the read does not progress";
    capnp::MallocMessageBuilder msg;
    reader::Page page;
    total_sent += rows_sent_by(*conn, [&] { page = reads.read_all({from, {}, {}}, limits, msg.getOrphanage()); });
    auto events = page.events.get();
    for (unsigned i = 0; i < page.count; ++i) seen.push_back(events[i].getGlobalSeq());
    if (page.count > 0) limits = hinted(configured, page.bytes / page.count);
    from = page.next_global_seq;
    if (page.end) break;
  }
  ASSERT_EQ(seen.size(), 150u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
  // Each page costs at most its rows, the one that tells whether more follow, and what a change of
  // event size makes it drain once.
  EXPECT_LT(total_sent, 150 + 2 * 25 + 60);
}

// Stream `stream` of category `category`: events 1..n of type Type<i mod 3>, and its streams row.
void insert_stream(store::Connection& conn, const std::string& category, const std::string& stream, int n) {
  for (int i = 1; i <= n; ++i)
    conn.execute(
        "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
        "payload_format) VALUES (UNHEX(MD5('" + stream + "/" + std::to_string(i) + "')), '" + stream + "', " +
        std::to_string(i) + ", '" + category + "', 'Type" + std::to_string(i % 3) + "', " +
        std::to_string(i) + ", '', '{}', 1)");
  conn.execute("INSERT INTO streams (stream, updated_at_us) VALUES ('" + stream + "', 0)");
}

// A lifecycle change as the writer makes it: the clock's tick, the row stamped with it.
void change(store::Connection& conn, const std::string& stream, const std::string& set) {
  conn.execute("UPDATE lifecycle_clock SET seq = seq + 1 WHERE id = 1");
  conn.execute("UPDATE streams SET " + set + ", changed_seq = (SELECT seq FROM lifecycle_clock WHERE id = 1) "
               "WHERE stream = '" + stream + "'");
}

// Every event a read from `from` with `filter` delivers, page by page (small pages).
std::vector<std::uint64_t> read_everything(StoreReads& reads, GlobalSeq from, const reader::AllPageQuery& filter) {
  std::vector<std::uint64_t> seen;
  reader::AllPageQuery q = filter;
  q.from = from;
  for (int pages = 0; pages < 1000; ++pages) {
    capnp::MallocMessageBuilder msg;
    auto page = reads.read_all(q, PageLimits{7, 1u << 20}, msg.getOrphanage());
    auto events = page.events.get();
    for (unsigned i = 0; i < page.count; ++i) seen.push_back(events[i].getGlobalSeq());
    if (page.end) return seen;
    EXPECT_GE(page.next_global_seq.value(), q.from.value());
    q.from = page.next_global_seq;
  }
  ADD_FAILURE() << "the read does not end";
  return seen;
}

// Every event projection stream `name` delivers from projection sequence `from`, page by page.
std::vector<std::uint64_t> read_projection_everything(StoreReads& reads, const std::string& name, std::int64_t from) {
  std::vector<std::uint64_t> seen;
  reader::ProjectionPageQuery q{name, ProjectionSeq(from)};
  for (int pages = 0; pages < 1000; ++pages) {
    capnp::MallocMessageBuilder msg;
    auto page = reads.read_projection(q, PageLimits{7, 1u << 20}, msg.getOrphanage());
    if (!page) {
      ADD_FAILURE() << "projection stream " << name << " not found";
      return seen;
    }
    auto events = page->events.get();
    EXPECT_EQ(page->projection_seqs.size(), page->count);
    for (unsigned i = 0; i < page->count; ++i) seen.push_back(events[i].getGlobalSeq());
    if (page->end) return seen;
    EXPECT_GE(page->next_stream_seq.value(), q.from.value());
    q.from = ProjectionSeq(page->next_stream_seq.value());
  }
  ADD_FAILURE() << "the read does not end";
  return seen;
}

// Projection stream `name` indexes every event of category `category`, in global order.
void index_projection(store::Connection& conn, const std::string& name, const std::string& category) {
  conn.execute("INSERT INTO projection_streams (name, seq, global_seq) SELECT '" + name +
               "', ROW_NUMBER() OVER (ORDER BY global_seq), global_seq FROM events WHERE category = '" + category + "'");
  conn.execute("INSERT INTO projection_stream_checkpoints (projection, position, definition_hash, state) VALUES ('" +
               name + "', 0, '', 'live')");
}

// The events the joined query (lifecycles decided by the store, row by row) and the cache-filtered
// pages deliver, from several positions, for $all, a category, two categories, a type, and
// projection stream "in-a" (category a).
void expect_same_as_joined(store::Connection& conn, LifecycleCache& cache, const std::string& when) {
  StoreReads joined(conn), cached(conn, &cache);
  for (std::int64_t from : {1, 3, 8, 16}) {
    const auto expected = read_projection_everything(joined, "in-a", from);
    EXPECT_EQ(read_projection_everything(cached, "in-a", from), expected)
        << when << ": projection stream from " << from;
  }
  const std::vector<reader::AllPageQuery> filters = {
      {GlobalSeq(1), {}, {}}, {GlobalSeq(1), {"a"}, {}}, {GlobalSeq(1), {"a", "b"}, {}}, {GlobalSeq(1), {}, {"Type1"}}};
  for (const auto& f : filters)
    for (std::uint64_t from : {1, 5, 17, 40}) {
      const auto expected = read_everything(joined, GlobalSeq(from), f);
      EXPECT_EQ(read_everything(cached, GlobalSeq(from), f), expected)
          << when << ": from " << from << ", " << f.categories.size() << " categories, " << f.event_types.size()
          << " types";
    }
}

TEST(StoreReads, PagesFilteredWithTheLifecycleCacheAreWhatTheJoinedQueryReturns) {
  TestStore store;
  auto conn = store.connect();
  // Interleaved streams, so that hidden rows sit between shown ones.
  for (int round = 0; round < 3; ++round) {
    insert_stream(*conn, "a", "a-" + std::to_string(round), 6);
    insert_stream(*conn, "b", "b-" + std::to_string(round), 5);
  }
  index_projection(*conn, "in-a", "a");
  LifecycleCache cache;
  expect_same_as_joined(*conn, cache, "no lifecycles");
  EXPECT_EQ(cache.size(), 0u);

  // Changes after the cache was loaded: a delete, a truncate, a max-age that hides everything, a
  // max-count (its rows take the joined query), each seen by the very next read.
  change(*conn, "a-0", "deleted = 1, truncate_before = 7");
  expect_same_as_joined(*conn, cache, "after a delete");
  change(*conn, "b-1", "truncate_before = 4");
  expect_same_as_joined(*conn, cache, "after a truncate");
  change(*conn, "a-2", "max_age_us = 1");
  expect_same_as_joined(*conn, cache, "after a max-age");
  change(*conn, "b-2", "max_count = 2");
  change(*conn, "a-1", "max_count = 4");
  expect_same_as_joined(*conn, cache, "after a max-count");
  EXPECT_EQ(cache.size(), 5u);
  // Limits lifted again: the stream leaves the cache.
  change(*conn, "a-2", "max_age_us = NULL");
  change(*conn, "b-2", "max_count = NULL");
  change(*conn, "a-1", "max_count = NULL");
  expect_same_as_joined(*conn, cache, "after lifting the limits");
  EXPECT_EQ(cache.size(), 2u);

  // A page the cache filtered is thrown away when the clock moved while it was read: here the
  // change is committed behind the cache's back (its clock is not read in between), and the next
  // page must still hide it.
  StoreReads cached(*conn, &cache);
  capnp::MallocMessageBuilder msg;
  (void)cached.read_all({GlobalSeq(1), {}, {}}, PageLimits{100, 1u << 20}, msg.getOrphanage());
  change(*conn, "a-1", "truncate_before = 6");
  auto truncated = [&](int before) {
    const auto rows = conn->query("SELECT global_seq FROM events WHERE stream = 'a-1' AND stream_seq < " +
                                  std::to_string(before));
    std::set<std::uint64_t> hidden;
    while (rows->next()) hidden.insert(rows->getUInt64(1));
    return hidden;
  };
  auto hidden = truncated(6);
  ASSERT_EQ(hidden.size(), 5u);
  for (auto g : read_everything(cached, GlobalSeq(1), {GlobalSeq(1), {"a"}, {}}))
    EXPECT_FALSE(hidden.count(g)) << "position " << g << " of a-1 is truncated";
  // The same for a projection stream's pages.
  (void)cached.read_projection({"in-a", ProjectionSeq(1)}, PageLimits{100, 1u << 20}, msg.getOrphanage());
  change(*conn, "a-1", "truncate_before = 7");
  hidden = truncated(7);
  const auto seen = read_projection_everything(cached, "in-a", 1);
  EXPECT_FALSE(seen.empty());
  for (auto g : seen) EXPECT_FALSE(hidden.count(g)) << "position " << g << " of a-1 is truncated";
}

// A store of schema 5 whose streams already had lifecycles: the upgrade stamps them as change 1,
// and a cache-filtered read hides them as before.
TEST(StoreReads, AnUpgradeToSchema6KeepsWhatLifecyclesHid) {
  TestStore store;
  auto conn = store.connect();
  insert_stream(*conn, "a", "a-1", 4);
  insert_stream(*conn, "a", "a-2", 4);
  // Back to schema 5 (migration 6 undone), with a stream deleted then.
  conn->execute("DROP TABLE lifecycle_clock");
  conn->execute("ALTER TABLE streams DROP KEY ix_streams_changed_seq, DROP COLUMN changed_seq");
  conn->execute("UPDATE even_meta SET v = '5' WHERE k = 'schema_version'");
  conn->execute("UPDATE streams SET deleted = 1, truncate_before = 5 WHERE stream = 'a-1'");
  {
    LifecycleCache old_store;  // no clock yet: joined queries only
    StoreReads reads(*conn, &old_store);
    EXPECT_EQ(read_everything(reads, GlobalSeq(1), {GlobalSeq(1), {}, {}}).size(), 4u);
    EXPECT_FALSE(old_store.usable());
  }
  const auto r = store::init_store(store.db());
  EXPECT_EQ(r.from_version, 5);
  EXPECT_EQ(r.to_version, store::latest_schema_version());
  EXPECT_EQ(conn->query_int("SELECT seq FROM lifecycle_clock WHERE id = 1"), 1);
  EXPECT_EQ(conn->query_int("SELECT changed_seq FROM streams WHERE stream = 'a-1'"), 1);
  LifecycleCache cache;
  StoreReads reads(*conn, &cache);
  EXPECT_EQ(read_everything(reads, GlobalSeq(1), {GlobalSeq(1), {}, {}}).size(), 4u);
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace even::test
