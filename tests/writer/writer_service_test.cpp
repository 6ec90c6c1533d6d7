// even-writer as a process, through the client library and raw sockets: appends, concurrency
// conflicts, idempotent retries, duplicates and every kind of bad input.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <capnp/message.h>
#include <map>
#include <set>
#include <thread>

#include "even/common/wire.h"
#include "even/schemas/writer.capnp.h"
#include "writer_fixture.h"

namespace even::test {
namespace {

class WriterServiceTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    writer = std::make_unique<WriterProcess>(store, loopback_endpoint(), extra);
    ASSERT_TRUE(writer->wait_serving()) << writer->process().log();
    client = std::make_unique<client::Client>(client_options(writer->endpoint()));
  }
  TestStore store;
  std::unique_ptr<WriterProcess> writer;
  std::unique_ptr<client::Client> client;
};

TEST_F(WriterServiceTest, AppendsWithEachKindOfExpectedVersion) {
  start();
  auto r1 = client->append("order-1", ExpectedVersion::no_stream(), {event("Created"), event("Paid")});
  EXPECT_EQ(r1.first_stream_seq.value(), 1);
  EXPECT_EQ(r1.last_stream_seq.value(), 2);
  EXPECT_EQ(r1.last_global_seq.value(), r1.first_global_seq.value() + 1);
  EXPECT_FALSE(r1.idempotent);
  auto r2 = client->append("order-1", ExpectedVersion::exact(2), {event("Shipped")});
  EXPECT_EQ(r2.first_stream_seq.value(), 3);
  auto r3 = client->append("order-1", ExpectedVersion::exists(), {event("Closed")});
  EXPECT_EQ(r3.first_stream_seq.value(), 4);
  auto r4 = client->append("order-2", ExpectedVersion::any(), {event("Created")});
  EXPECT_EQ(r4.first_stream_seq.value(), 1);
  EXPECT_GT(r4.first_global_seq, r3.first_global_seq);

  EXPECT_THROW(client->append("order-1", ExpectedVersion::no_stream(), {event()}), client::WrongExpectedVersion);
  EXPECT_THROW(client->append("order-3", ExpectedVersion::exists(), {event()}), client::WrongExpectedVersion);
  try {
    client->append("order-1", ExpectedVersion::exact(2), {event()});
    FAIL() << "expected a conflict";
  } catch (const client::WrongExpectedVersion& e) {
    EXPECT_EQ(e.current_version(), 4);
  }
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 5);
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 'order-1'"), 4);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE category = 'order'"), 5);
}

TEST_F(WriterServiceTest, ManyClientsRacingOnOneStreamLeaveNoHoles) {
  start();
  constexpr int kThreads = 16, kAttempts = 60;
  std::atomic<int> wins{0}, conflicts{0};
  std::mutex mu;
  std::map<std::int64_t, int> winners_per_version;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      client::Client c(client_options(writer->endpoint()));
      std::int64_t known = 0;
      for (int i = 0; i < kAttempts; ++i) {
        auto ex = known == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(known);
        try {
          auto r = c.append("race-1", ex, {event()});
          ++wins;
          known = r.last_stream_seq.value();
          std::lock_guard lock(mu);
          ++winners_per_version[known];
        } catch (const client::WrongExpectedVersion& e) {
          ++conflicts;
          known = e.current_version() < 0 ? 0 : e.current_version();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(conflicts.load(), 0);
  EXPECT_EQ(wins.load() + conflicts.load(), kThreads * kAttempts);
  // Exactly one winner per version, versions 1..wins, and the store agrees.
  ASSERT_EQ(static_cast<int>(winners_per_version.size()), wins.load());
  for (const auto& [version, n] : winners_per_version) EXPECT_EQ(n, 1) << "version " << version;
  EXPECT_EQ(winners_per_version.rbegin()->first, wins.load());
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'race-1'"), wins.load());
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 'race-1'"), wins.load());
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 'race-1'"), wins.load());
}

// Issue 12.3, as it was seen: after one row was inserted into `events` behind the writer's back,
// every later append to that stream failed with "conflicting write by another process".
TEST_F(WriterServiceTest, ForeignInsertIntoACachedStreamDoesNotStickTheStream) {
  start();
  client->append("stuck-1", ExpectedVersion::no_stream(), {event()});
  store.connect()->execute(
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (X'00112233445566778899aabbccddeeff', 'stuck-1', 2, 'stuck', 'Foreign', 0, '', '', 0)");
  auto r = client->append("stuck-1", ExpectedVersion::any(), {event()});
  EXPECT_EQ(r.first_stream_seq.value(), 3);
  try {
    client->append("stuck-1", ExpectedVersion::exact(2), {event()});
    FAIL() << "expected a conflict";
  } catch (const client::WrongExpectedVersion& e) {
    EXPECT_EQ(e.current_version(), 3);
  }
  EXPECT_EQ(client->append("stuck-1", ExpectedVersion::exact(3), {event()}).first_stream_seq.value(), 4);
  EXPECT_EQ(store.scalar("SELECT MAX(stream_seq) FROM events WHERE stream = 'stuck-1'"), 4);
  EXPECT_NE(writer->process().log().find("warning [writer] stream 'stuck-1' is at version 2"), std::string::npos)
      << writer->process().log();
}

TEST_F(WriterServiceTest, RetriedAppendIsIdempotent) {
  start();
  std::vector<client::NewEvent> events = {event("A"), event("B")};
  auto first = client->append("acct-7", ExpectedVersion::no_stream(), events);
  client->append("acct-7", ExpectedVersion::any(), {event("C")});
  auto again = client->append("acct-7", ExpectedVersion::no_stream(), events);
  EXPECT_TRUE(again.idempotent);
  EXPECT_EQ(again.first_global_seq, first.first_global_seq);
  EXPECT_EQ(again.last_stream_seq, first.last_stream_seq);
  auto any = client->append("acct-7", ExpectedVersion::any(), events);
  EXPECT_TRUE(any.idempotent);
  EXPECT_EQ(any.first_stream_seq.value(), 1);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 3);
  // Concurrent resends of one append: all succeed with the same positions, one copy stored.
  std::vector<client::NewEvent> burst = {event("D")};
  std::vector<std::future<client::AppendResult>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(client->append_async("acct-8", ExpectedVersion::no_stream(), burst));
  std::set<std::uint64_t> positions;
  for (auto& f : futures) positions.insert(f.get().first_global_seq.value());
  EXPECT_EQ(positions.size(), 1u);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'acct-8'"), 1);
}

// The completion-handler form: each handler runs exactly once, may start the next append (here
// chains of serial appends, many in flight at once), and gets the same errors append() throws.
TEST_F(WriterServiceTest, CompletionHandlersChainAppendsAndReportErrors) {
  start();
  constexpr int kChains = 8, kLength = 40;
  std::mutex mu;
  std::condition_variable cv;
  int chains_done = 0;
  std::atomic<int> calls{0}, failures{0};
  std::function<void(int, int)> next = [&](int chain, int i) {
    const std::string stream = "chain-" + std::to_string(chain);
    const auto expected = i == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(i);
    client->append_async(stream, expected, {event("Step")},
                         [&, chain, i](const client::AppendResult* r, std::exception_ptr error) {
                           ++calls;
                           if (!r || error || r->last_stream_seq.value() != i + 1) ++failures;
                           if (r && i + 1 < kLength) return next(chain, i + 1);
                           std::lock_guard lock(mu);
                           ++chains_done;
                           cv.notify_all();
                         });
  };
  for (int c = 0; c < kChains; ++c) next(c, 0);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return chains_done == kChains; }));
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(calls.load(), kChains * kLength);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE category = 'chain'"), kChains * kLength);
  EXPECT_EQ(store.scalar("SELECT MIN(v) FROM (SELECT MAX(stream_seq) AS v FROM events WHERE stream LIKE 'chain-%' GROUP BY stream) t"), kLength);

  // A conflict arrives as the exception append() would throw, with the current version.
  std::promise<std::exception_ptr> conflict;
  client->append_async("chain-0", ExpectedVersion::exact(3), {event()},
                       [&](const client::AppendResult* r, std::exception_ptr error) {
                         conflict.set_value(r ? nullptr : error);
                       });
  auto error = conflict.get_future().get();
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const client::WrongExpectedVersion& e) {
    EXPECT_EQ(e.current_version(), kLength);
  } catch (const std::exception& e) {
    FAIL() << "unexpected error: " << e.what();
  }
  // Bad input throws at the call, before anything is sent, and the handler is never called.
  auto small = client_options(writer->endpoint());
  small.max_message_bytes = 1024;
  client::Client limited(small);
  auto big = event("Big");
  big.payload.assign(4096, 'x');
  EXPECT_THROW(limited.append_async("chain-0", ExpectedVersion::any(), {big},
                                    [&](const client::AppendResult*, std::exception_ptr) { ++calls; }),
               client::InvalidRequest);
  EXPECT_EQ(calls.load(), kChains * kLength);  // the limited client's handler never ran
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE category = 'chain'"), kChains * kLength);
}

TEST_F(WriterServiceTest, DuplicateIdsAreRejectedAlone) {
  start();
  auto shared = event("Shared");
  client->append("dup-1", ExpectedVersion::any(), {shared});
  EXPECT_THROW(client->append("dup-2", ExpectedVersion::any(), {shared}), client::DuplicateEvent);
  EXPECT_THROW(client->append("dup-1", ExpectedVersion::any(), {shared, event()}), client::DuplicateEvent);
  auto twice = event("Twice");
  EXPECT_THROW(client->append("dup-3", ExpectedVersion::any(), {twice, twice}), client::InvalidRequest);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 1);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM streams"), 1);
}

TEST_F(WriterServiceTest, InvalidRequestsGetClearErrorsAndChangeNothing) {
  start({"--writer.max-message-bytes", "65536"});
  auto expect_invalid = [&](const std::string& stream, std::vector<client::NewEvent> events, client::ErrorCode code) {
    try {
      client->append(stream, ExpectedVersion::any(), events);
      ADD_FAILURE() << "accepted: " << stream;
    } catch (const client::InvalidRequest& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_GT(std::string(e.what()).size(), 20u) << "error should explain itself";
    }
  };
  expect_invalid("has space", {event()}, client::ErrorCode::invalid_stream);
  expect_invalid("", {event()}, client::ErrorCode::invalid_stream);
  expect_invalid("$system", {event()}, client::ErrorCode::invalid_stream);
  expect_invalid(std::string(201, 'x'), {event()}, client::ErrorCode::invalid_stream);
  expect_invalid("ok-1", {}, client::ErrorCode::invalid_event);
  expect_invalid("ok-1", {event("9starts-with-digit")}, client::ErrorCode::invalid_event);
  // A valid JSON payload (a string) that is too large: the size is what the writer refuses.
  expect_invalid("ok-1", {event("T", "\"" + std::string(100000, 'x') + "\"")}, client::ErrorCode::too_large);
  EXPECT_THROW(client->append("ok-1", ExpectedVersion::exact(0), {event()}), client::InvalidRequest);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 0);
  // Still serving.
  EXPECT_EQ(client->append("ok-1", ExpectedVersion::any(), {event()}).first_stream_seq.value(), 1);
}

// Raw frames on a DEALER: garbage, wrong version, oversized. Each gets an error reply.
TEST_F(WriterServiceTest, MalformedFramesGetErrorReplies) {
  start({"--writer.max-message-bytes", "65536"});
  zmq::context_t ctx(1);
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::rcvtimeo, 5000);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(writer->endpoint());
  auto roundtrip = [&](zmq::message_t frame) {
    dealer.send(frame, zmq::send_flags::none);
    zmq::message_t reply;
    EXPECT_TRUE(dealer.recv(reply)) << "no reply";
    auto d = wire::decode<schema::WriterReply>(std::move(reply), {});
    EXPECT_TRUE(std::holds_alternative<wire::Decoded>(d));
    auto r = std::get<wire::Decoded>(d).root<schema::WriterReply>();
    EXPECT_TRUE(r.isError());
    return std::make_pair(r.getError().getCode(), std::string(r.getError().getMessage()));
  };
  auto [c1, m1] = roundtrip(zmq::message_t(std::string("not capnp at all")));
  EXPECT_EQ(c1, schema::ErrorCode::MALFORMED) << m1;
  auto [c2, m2] = roundtrip(zmq::message_t(std::string(64, '\xff')));
  EXPECT_EQ(c2, schema::ErrorCode::MALFORMED) << m2;

  capnp::MallocMessageBuilder v;
  auto req = v.initRoot<schema::WriterRequest>();
  req.setProtocolVersion(99);
  req.setRequestId(5);
  req.setPing();
  auto [c3, m3] = roundtrip(wire::encode(v));
  EXPECT_EQ(c3, schema::ErrorCode::UNSUPPORTED_VERSION) << m3;

  // Over --max-message-bytes: a clear error. (Over twice that, libzmq's ZMQ_MAXMSGSIZE drops the
  // connection without a reply; the writer itself is unaffected.)
  auto [c4, m4] = roundtrip(zmq::message_t(std::string(100000, '\0')));
  EXPECT_EQ(c4, schema::ErrorCode::TOO_LARGE) << m4;
  EXPECT_NE(m4.find("limit"), std::string::npos);
  {
    zmq::socket_t rogue(ctx, zmq::socket_type::dealer);
    rogue.set(zmq::sockopt::linger, 0);
    rogue.connect(writer->endpoint());
    rogue.send(zmq::message_t(std::string(1 << 20, 'z')), zmq::send_flags::none);
  }

  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 0);
  client->ping_writer();
}

TEST_F(WriterServiceTest, ClientTimesOutWhenNoWriterAnswers) {
  client::Client c(client_options(loopback_endpoint(), 800));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(c.append("x-1", ExpectedVersion::any(), {event()}), client::Timeout);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(700));
  EXPECT_LT(took, std::chrono::seconds(5));
}

// --batch-window-us: after the first request of a batch, the writer waits that long for more, so
// appends sent together commit together (the stop line counts the batches).
TEST_F(WriterServiceTest, BatchWindowGroupsAppendsSentTogether) {
  start({"--writer.batch-window-us", "300000"});
  client->append("w-0", ExpectedVersion::any(), {event()});
  std::vector<std::future<client::AppendResult>> pending;
  for (int i = 1; i <= 20; ++i)
    pending.push_back(client->append_async("w-" + std::to_string(i), ExpectedVersion::any(), {event()}));
  std::set<std::uint64_t> positions;
  for (auto& f : pending) positions.insert(f.get().first_global_seq.value());
  EXPECT_EQ(positions.size(), 20u);
  writer->process().signal(SIGTERM);
  ASSERT_EQ(writer->process().wait(std::chrono::seconds(10)), 0) << writer->process().log();
  EXPECT_NE(writer->process().log().find("stopped after 2 batches, 21 appends"), std::string::npos)
      << writer->process().log();
}

TEST_F(WriterServiceTest, StopsCleanlyOnSigterm) {
  start();
  client->append("s-1", ExpectedVersion::any(), {event()});
  writer->process().signal(SIGTERM);
  EXPECT_EQ(writer->process().wait(std::chrono::seconds(10)), 0) << writer->process().log();
  EXPECT_NE(writer->process().log().find("stopped after"), std::string::npos);
}

}  // namespace
}  // namespace even::test
