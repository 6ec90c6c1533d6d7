// Stream lifecycle with real processes (even-writer, even-reader) on the test MariaDB: soft and
// hard delete, truncate, max-count and max-age hide what they should from every kind of read, the
// writer's version cache stays right, and bad input changes nothing. (The scavenge that removes
// the hidden rows is tests/dispatcher/scavenge_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "dispatcher/cluster.h"
#include "even/client/client.h"
#include "support/process.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

client::NewEvent event(const std::string& type = "Happened") {
  client::NewEvent e;  // a new event id each time
  e.type = type;
  e.payload = "{}";
  return e;
}

std::vector<client::NewEvent> events(int n, const std::string& type = "Happened") {
  std::vector<client::NewEvent> out;
  for (int i = 0; i < n; ++i) out.push_back(event(type));
  return out;
}

std::vector<std::int64_t> seqs(client::EventStream s) {
  std::vector<std::int64_t> out;
  for (const auto& e : s) out.push_back(e.stream_seq.value());
  return out;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (auto i = from; i <= to; ++i) out.push_back(i);
  return out;
}

// The stream sequences of `stream` that $all, its category and its event type show.
struct AllViews {
  std::vector<std::int64_t> all, category, type;
};
AllViews all_views(client::Client& c, const std::string& stream, const std::string& type = "Happened") {
  AllViews v;
  auto keep = [&](client::EventStream s, std::vector<std::int64_t>& out) {
    for (const auto& e : s)
      if (e.stream == stream) out.push_back(e.stream_seq.value());
  };
  keep(c.read_all(GlobalSeq(1)), v.all);
  keep(c.read_all(GlobalSeq(1), client::Filter{{std::string(category_of(stream))}, {}}), v.category);
  keep(c.read_all(GlobalSeq(1), client::Filter{{}, {type}}), v.type);
  return v;
}

// Expects every read to show exactly `expected` of `stream`.
void expect_visible(client::Client& c, const std::string& stream, const std::vector<std::int64_t>& expected,
                    const std::string& type = "Happened") {
  EXPECT_EQ(seqs(c.read_stream(stream, StreamSeq(1))), expected) << "forward";
  auto backward = expected;
  std::reverse(backward.begin(), backward.end());
  EXPECT_EQ(seqs(c.read_stream(stream, client::kStreamEnd, client::Direction::backward)), backward) << "backward";
  auto v = all_views(c, stream, type);
  EXPECT_EQ(v.all, expected) << "$all";
  EXPECT_EQ(v.category, expected) << "category";
  EXPECT_EQ(v.type, expected) << "event type";
}

struct Running {
  Cluster cluster;
  std::unique_ptr<client::Client> client;
  Running() {
    cluster.start_writer();
    cluster.start_reader();
    client = std::make_unique<client::Client>(cluster.client_options());
  }
};

TEST(StreamLifecycleTest, ASoftDeletedStreamIsNotFoundAndStartsAgainAfterItsLastSequence) {
  Running r;
  auto& c = *r.client;
  c.append("order-1", ExpectedVersion::no_stream(), events(3));
  c.append("order-2", ExpectedVersion::no_stream(), events(2));
  EXPECT_THROW(c.delete_stream("order-1", false, ExpectedVersion::exact(2)), client::WrongExpectedVersion);
  auto st = c.delete_stream("order-1", false, ExpectedVersion::exact(3));
  EXPECT_TRUE(st.deleted);
  EXPECT_FALSE(st.exists);
  EXPECT_EQ(st.version, StreamSeq(3));

  EXPECT_THROW(c.read_stream("order-1", StreamSeq(1)).to_vector(), client::NotFound);
  EXPECT_EQ(c.stream_version("order-1"), std::nullopt);
  auto info = c.stream_info("order-1");
  EXPECT_FALSE(info.exists);
  EXPECT_TRUE(info.deleted);
  EXPECT_EQ(info.version, StreamSeq(3));
  auto v = all_views(c, "order-1");
  EXPECT_TRUE(v.all.empty() && v.category.empty() && v.type.empty());
  expect_visible(c, "order-2", {1, 2});  // the other stream of the category is untouched

  // A resend of the delete (its reply lost) succeeds; an append expecting the old version fails.
  EXPECT_TRUE(c.delete_stream("order-1").deleted);
  EXPECT_THROW(c.append("order-1", ExpectedVersion::exact(3), {event()}), client::WrongExpectedVersion);
  EXPECT_THROW(c.append("order-1", ExpectedVersion::exists(), {event()}), client::WrongExpectedVersion);

  // no-stream starts it again from 4: sequence numbers are never reused.
  auto a = c.append("order-1", ExpectedVersion::no_stream(), events(2));
  EXPECT_EQ(a.first_stream_seq, StreamSeq(4));
  EXPECT_EQ(a.last_stream_seq, StreamSeq(5));
  expect_visible(c, "order-1", {4, 5});
  info = c.stream_info("order-1");
  EXPECT_TRUE(info.exists);
  EXPECT_FALSE(info.deleted);
  EXPECT_EQ(info.truncate_before, StreamSeq(4));
  EXPECT_EQ(c.append("order-1", ExpectedVersion::exact(5), {event()}).first_stream_seq, StreamSeq(6));

  // The writer's cache was right all along; a restarted writer reads the same from the store.
  r.cluster.start_writer();
  EXPECT_EQ(c.append("order-1", ExpectedVersion::exact(6), {event()}).first_stream_seq, StreamSeq(7));
}

TEST(StreamLifecycleTest, AHardDeletedStreamRefusesAppendsForEver) {
  Running r;
  auto& c = *r.client;
  c.append("grave-1", ExpectedVersion::no_stream(), events(4));
  auto st = c.delete_stream("grave-1", /*hard=*/true);
  EXPECT_TRUE(st.tombstoned);
  for (auto expected : {ExpectedVersion::any(), ExpectedVersion::no_stream(), ExpectedVersion::exact(4)}) {
    try {
      c.append("grave-1", expected, {event()});
      ADD_FAILURE() << "an append to a tombstoned stream succeeded";
    } catch (const client::NotFound& e) {
      EXPECT_NE(std::string(e.what()).find("hard-deleted"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(c.truncate_stream("grave-1", StreamSeq(2)), client::NotFound);
  EXPECT_THROW(c.set_stream_metadata("grave-1", {3, {}}), client::NotFound);
  EXPECT_THROW(c.delete_stream("grave-1"), client::NotFound);
  EXPECT_TRUE(c.delete_stream("grave-1", true).tombstoned) << "a resent hard delete succeeds";
  EXPECT_THROW(c.read_stream("grave-1", StreamSeq(1)).to_vector(), client::NotFound);
  EXPECT_TRUE(c.stream_info("grave-1").tombstoned);
  EXPECT_TRUE(all_views(c, "grave-1").all.empty());
  EXPECT_EQ(r.cluster.store().scalar("SELECT COUNT(*) FROM events WHERE stream = 'grave-1'"), 4)
      << "a delete only hides; the scavenge removes";

  // Still refused by a writer that starts with an empty cache.
  r.cluster.start_writer();
  EXPECT_THROW(c.append("grave-1", ExpectedVersion::any(), {event()}), client::NotFound);
  // A name never written can be tombstoned too.
  EXPECT_TRUE(c.delete_stream("never-1", true, ExpectedVersion::no_stream()).tombstoned);
  EXPECT_THROW(c.append("never-1", ExpectedVersion::no_stream(), {event()}), client::NotFound);
}

TEST(StreamLifecycleTest, TruncateMaxCountAndMaxAgeHideFromEveryRead) {
  Running r;
  auto& c = *r.client;
  c.append("cart-1", ExpectedVersion::no_stream(), events(10));
  auto st = c.truncate_stream("cart-1", StreamSeq(4), ExpectedVersion::exact(10));
  EXPECT_EQ(st.truncate_before, StreamSeq(4));
  expect_visible(c, "cart-1", range(4, 10));
  EXPECT_EQ(seqs(c.read_stream("cart-1", StreamSeq(1), client::Direction::forward, 2)), range(4, 5));
  EXPECT_EQ(c.truncate_stream("cart-1", StreamSeq(2)).truncate_before, StreamSeq(4)) << "never lowered";
  EXPECT_EQ(c.stream_version("cart-1"), StreamSeq(10));

  st = c.set_stream_metadata("cart-1", {3, {}});
  EXPECT_EQ(st.metadata.max_count, 3);
  expect_visible(c, "cart-1", range(8, 10));
  c.append("cart-1", ExpectedVersion::exact(10), events(2));
  expect_visible(c, "cart-1", range(10, 12));
  EXPECT_EQ(c.stream_info("cart-1").metadata.max_count, 3);
  // Metadata read back through the reader, and unset again.
  c.set_stream_metadata("cart-1", {});
  expect_visible(c, "cart-1", range(4, 12));

  // max-age: the old events fade, a new one is visible.
  c.append("session-1", ExpectedVersion::no_stream(), events(3));
  st = c.set_stream_metadata("session-1", {{}, std::chrono::microseconds(1'500'000)});
  EXPECT_EQ(st.metadata.max_age, std::chrono::microseconds(1'500'000));
  expect_visible(c, "session-1", {1, 2, 3});
  std::this_thread::sleep_for(1600ms);
  c.append("session-1", ExpectedVersion::exact(3), {event()});
  expect_visible(c, "session-1", {4});
  EXPECT_TRUE(c.stream_info("session-1").exists) << "a stream whose events aged out still exists";

  // Metadata may come before the first event; it applies to it.
  c.set_stream_metadata("log-1", {2, {}}, ExpectedVersion::no_stream());
  c.append("log-1", ExpectedVersion::no_stream(), events(5));
  expect_visible(c, "log-1", {4, 5});
}

// Read-all pages are filtered by each reader worker's LifecycleCache (no join with `streams`):
// a change made after every worker has loaded its cache is hidden from the very next reads, on
// whichever worker serves them, and streams without a lifecycle are untouched by it.
TEST(StreamLifecycleTest, AChangeIsHiddenFromTheNextReadOfEveryWorker) {
  Running r;
  auto& c = *r.client;
  for (const char* s : {"acct-1", "acct-2", "acct-3", "acct-4", "acct-5"}) c.append(s, ExpectedVersion::no_stream(), events(4));
  auto warm = [&] {  // more reads than the reader has workers, so each one syncs its cache
    for (int i = 0; i < 8; ++i) all_views(c, "acct-1");
  };
  warm();
  c.delete_stream("acct-1");
  for (int i = 0; i < 8; ++i) {
    auto v = all_views(c, "acct-1");
    EXPECT_TRUE(v.all.empty() && v.category.empty() && v.type.empty()) << "read " << i;
  }
  c.truncate_stream("acct-2", StreamSeq(3));
  for (int i = 0; i < 8; ++i) expect_visible(c, "acct-2", {3, 4});
  c.set_stream_metadata("acct-3", {1, {}});  // max-count: those pages take the joined query
  for (int i = 0; i < 8; ++i) expect_visible(c, "acct-3", {4});
  c.set_stream_metadata("acct-3", {});
  for (int i = 0; i < 8; ++i) expect_visible(c, "acct-3", range(1, 4));
  c.set_stream_metadata("acct-4", {{}, std::chrono::microseconds(1)});
  for (int i = 0; i < 8; ++i) expect_visible(c, "acct-4", {});
  c.append("acct-1", ExpectedVersion::no_stream(), events(1));  // started again after its delete
  for (int i = 0; i < 8; ++i) expect_visible(c, "acct-1", {5});
  expect_visible(c, "acct-5", range(1, 4));
}

TEST(StreamLifecycleTest, ChangesAreOrderedWithTheAppendsAroundThem) {
  Running r;
  auto& c = *r.client;
  // A delete sent while appends to the stream are in flight lands between two of them: those
  // before it are hidden, those after it started the stream again after its version.
  constexpr int kAppends = 50;
  std::vector<std::future<client::AppendResult>> appends, others;
  std::int64_t deleted_at = -1;
  std::vector<std::int64_t> landed;
  // The first one answered, so that the delete finds the stream whatever order the rest take.
  landed.push_back(c.append("mix-1", ExpectedVersion::any(), {event()}).first_stream_seq.value());
  for (int i = 1; i < kAppends; ++i) {
    appends.push_back(c.append_async("mix-1", ExpectedVersion::any(), {event()}));
    if (i == kAppends / 4) {
      auto deleting = std::async(std::launch::async, [&c] { return c.delete_stream("mix-1"); });
      for (int k = 0; k < 20; ++k) others.push_back(c.append_async("mix-2", ExpectedVersion::any(), {event()}));
      for (int k = 0; k < 10; ++k) appends.push_back(c.append_async("mix-1", ExpectedVersion::any(), {event()}));
      i += 10;
      const auto deleted = deleting.get();
      EXPECT_TRUE(deleted.deleted);
      deleted_at = deleted.version.value();
    }
  }
  for (auto& f : appends) landed.push_back(f.get().first_stream_seq.value());
  ASSERT_GE(deleted_at, 1);
  std::sort(landed.begin(), landed.end());
  EXPECT_EQ(landed, range(1, kAppends)) << "every append has its own sequence number";
  // The re-append (no-stream), while appends to another stream are in flight: it starts the
  // stream again only if no append after the delete did.
  for (int k = 0; k < 20; ++k) others.push_back(c.append_async("mix-2", ExpectedVersion::any(), {event()}));
  if (deleted_at == kAppends) {
    EXPECT_EQ(c.append("mix-1", ExpectedVersion::no_stream(), {event()}).first_stream_seq, StreamSeq(kAppends + 1));
    expect_visible(c, "mix-1", {kAppends + 1});
  } else {
    EXPECT_THROW(c.append("mix-1", ExpectedVersion::no_stream(), {event()}), client::WrongExpectedVersion);
    expect_visible(c, "mix-1", range(deleted_at + 1, kAppends));
  }
  for (auto& f : others) f.get();
  expect_visible(c, "mix-2", range(1, 40));
}

// A long run of hidden rows (a deleted stream not yet scavenged) is crossed in bounded windows:
// a page that found nothing visible in its window says so with end=false and where to go on, and
// a whole read goes through to the events after the run.
TEST(StreamLifecycleTest, AReadAcrossALongHiddenRangeGoesOnInBoundedWindows) {
  Running r;
  auto& c = *r.client;
  constexpr int kHidden = 250000;  // 2.5 reader scan windows
  r.cluster.store().connect()->execute(
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) SELECT UNHEX(MD5(CONCAT('long-gone-', seq))), 'gone-1', seq, 'gone', 'Happened', 1, '', '{}', "
      "0 FROM mysql.seq_1_to_" + std::to_string(kHidden));
  EXPECT_EQ(c.delete_stream("gone-1").version, StreamSeq(kHidden));
  c.append("kept-1", ExpectedVersion::no_stream(), events(2));

  auto first = c.read_all_page_async(GlobalSeq(1)).get();
  EXPECT_TRUE(first.events.empty());
  EXPECT_FALSE(first.end) << "the window ended before the head";
  EXPECT_GT(first.next_global_seq.value(), 1u);
  EXPECT_LE(first.next_global_seq.value(), static_cast<std::uint64_t>(kHidden));
  auto in_category = c.read_all_page_async(GlobalSeq(1), client::Filter{{"gone"}, {}}).get();
  EXPECT_TRUE(in_category.events.empty());
  EXPECT_FALSE(in_category.end);

  std::vector<std::string> streams;
  for (const auto& e : c.read_all(GlobalSeq(1))) streams.push_back(e.stream);
  EXPECT_EQ(streams, (std::vector<std::string>{"kept-1", "kept-1"}));
  EXPECT_TRUE(seqs(c.read_all(GlobalSeq(1), client::Filter{{"gone"}, {}})).empty());
  expect_visible(c, "kept-1", {1, 2});
}

TEST(StreamLifecycleTest, BadInputGetsAClearErrorAndChangesNothing) {
  Running r;
  auto& c = *r.client;
  c.append("bad-1", ExpectedVersion::no_stream(), events(3));
  const auto rows = r.cluster.store().scalar("SELECT COUNT(*) FROM events");
  auto state_row = [&] {
    auto conn = r.cluster.store().connect();
    auto rs = conn->query(
        "SELECT CONCAT_WS(',', deleted, tombstoned, truncate_before, COALESCE(max_count, 'none'), "
        "COALESCE(max_age_us, 'none')) FROM streams WHERE stream = 'bad-1'");
    if (!rs->next()) return std::string("(no row)");
    auto v = rs->getString(1);
    return std::string(v.c_str(), v.length());
  };
  const auto before = state_row();
  auto expect_refused = [&](auto call, client::ErrorCode code, const char* what) {
    try {
      call();
      ADD_FAILURE() << what << ": accepted";
    } catch (const client::Error& e) {
      EXPECT_EQ(e.code(), code) << what << ": " << e.what();
      EXPECT_GT(std::string(e.what()).size(), 20u) << what << " says why";
    }
  };
  expect_refused([&] { c.truncate_stream("bad-1", StreamSeq(0)); }, client::ErrorCode::bad_range, "truncate before 0");
  expect_refused([&] { c.truncate_stream("bad-1", StreamSeq(-5)); }, client::ErrorCode::bad_range, "negative");
  expect_refused([&] { c.truncate_stream("bad-1", StreamSeq(9)); }, client::ErrorCode::bad_range, "past the end");
  expect_refused([&] { c.set_stream_metadata("bad-1", {-1, {}}); }, client::ErrorCode::bad_range, "max-count -1");
  expect_refused([&] { c.set_stream_metadata("bad-1", {0, {}}); }, client::ErrorCode::bad_range, "max-count 0");
  expect_refused([&] { c.set_stream_metadata("bad-1", {{}, std::chrono::microseconds(-1)}); },
                 client::ErrorCode::bad_range, "negative age");
  expect_refused([&] { c.delete_stream("nobody-1"); }, client::ErrorCode::not_found, "unknown stream");
  expect_refused([&] { c.truncate_stream("nobody-1", StreamSeq(1)); }, client::ErrorCode::not_found, "unknown");
  // A NUL inside a text field is refused when the frame is decoded, as in an append's stream.
  const std::string nul("bad-1\0x", 7);
  expect_refused([&] { c.delete_stream(nul); }, client::ErrorCode::malformed, "NUL in the name");
  expect_refused([&] { c.truncate_stream(nul, StreamSeq(1)); }, client::ErrorCode::malformed, "NUL");
  expect_refused([&] { c.set_stream_metadata("", {1, {}}); }, client::ErrorCode::invalid_stream, "empty name");
  expect_refused([&] { c.delete_stream("bad-1", false, ExpectedVersion::exact(2)); },
                 client::ErrorCode::wrong_expected_version, "wrong expected version");

  // evenctl refuses bad numbers before sending anything (exit code 2: usage).
  struct Ran {
    int exit_code;
    std::string output;
  };
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {bin("tools/evenctl"), "stream"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& f : {"--writer-endpoint", r.cluster.writer_endpoint.c_str(), "--reader-endpoint",
                          r.cluster.reader_endpoint.c_str()})
      argv.emplace_back(f);
    Ran ran;
    ran.exit_code = run_tool(argv, &ran.output);
    return ran;
  };
  EXPECT_EQ(run({"truncate", "bad-1", "--before", "-1"}).exit_code, 2);
  EXPECT_EQ(run({"meta", "bad-1", "--max-count", "x"}).exit_code, 2);
  EXPECT_EQ(run({"meta", "bad-1", "--max-age", "9223372036854775807"}).exit_code, 2) << "overflows in microseconds";
  EXPECT_EQ(run({"delete", "nobody-2"}).exit_code, 3);
  auto ok = run({"meta", "bad-1", "--max-count", "2"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("\"max_count\":2"), std::string::npos) << ok.output;
  auto undo = run({"meta", "bad-1", "--max-count", "0"});
  EXPECT_EQ(undo.exit_code, 0) << undo.output;

  EXPECT_EQ(r.cluster.store().scalar("SELECT COUNT(*) FROM events"), rows);
  EXPECT_EQ(state_row(), before);
  EXPECT_EQ(r.cluster.store().scalar("SELECT COUNT(*) FROM streams WHERE stream LIKE 'nobody%'"), 0);
  expect_visible(c, "bad-1", {1, 2, 3});
}

}  // namespace
}  // namespace even::test
