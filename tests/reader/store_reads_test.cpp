// StoreReads (services/reader/store_reads.h) against the real MariaDB: how many rows a page query
// asks the server for, and that pages sized from the row-size hint still deliver every event once.
//
// A streamed result cannot be abandoned part way: rows a query asked for but the page had no room
// for are still sent by the server and drained. The server's own count of rows it sent (session
// status Rows_sent) shows what a page really cost.
#include <gtest/gtest.h>

#include <capnp/message.h>

#include "even/common/store/mysql.h"
#include "reader/store_reads.h"
#include "support/test_env.h"

namespace even::test {
namespace {

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

}  // namespace
}  // namespace even::test
