// The dispatcher's PULL endpoint with a sender that is not the writer (services/dispatcher/README.md,
// "Feed trust"): forged but well-formed CommittedBatch frames, and malformed multipart frames,
// pushed with libzmq's C API and a plain Cap'n Proto builder (nothing of the project's wire
// layer), against real even-writer, even-dispatcher and even-reader processes. What subscribers
// see must be exactly the store's events: no forged one, no real one skipped, across a restart.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <zmq.h>

#include <array>
#include <cctype>
#include <mutex>
#include <random>

#include "dispatcher/cluster.h"
#include "even/client/subscription.h"
#include "even/schemas/feed.capnp.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

using RawId = std::array<std::uint8_t, 16>;

RawId random_id() {
  static std::mt19937_64 rng(std::random_device{}());
  RawId id;
  for (auto& b : id) b = static_cast<std::uint8_t>(rng());
  return id;
}

std::string without_dashes(std::string uuid) {
  std::erase(uuid, '-');
  return uuid;
}

// One event as a forger states it.
struct Forged {
  std::uint64_t seq;
  std::string stream;
  RawId id = random_id();
  std::string payload = "{\"forged\":true}";
};

// A sender on the dispatcher's PULL endpoint: libzmq's C API, one CommittedBatch per frame built
// with Cap'n Proto's own builder. Owns its context and PUSH socket; messages not yet delivered
// when it is destroyed are given 2 s.
class Forger {
 public:
  explicit Forger(const std::string& endpoint) : ctx_(zmq_ctx_new()), push_(zmq_socket(ctx_, ZMQ_PUSH)) {
    const int linger = 2000;
    zmq_setsockopt(push_, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(push_, endpoint.c_str()) != 0) throw std::runtime_error("zmq_connect failed");
  }
  ~Forger() {
    zmq_close(push_);
    zmq_ctx_term(ctx_);
  }
  Forger(const Forger&) = delete;
  Forger& operator=(const Forger&) = delete;

  static std::string batch(const std::vector<Forged>& events) {
    capnp::MallocMessageBuilder msg;
    auto list = msg.initRoot<schema::CommittedBatch>().initEvents(static_cast<unsigned>(events.size()));
    for (unsigned i = 0; i < events.size(); ++i) {
      auto e = list[i];
      e.setGlobalSeq(events[i].seq);
      e.setEventId(capnp::Data::Reader(events[i].id.data(), events[i].id.size()));
      e.setStream(events[i].stream);
      e.setStreamSeq(1);
      e.setType("Forged");
      e.setCreatedAtUs(1);
      e.setPayload(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(events[i].payload.data()),
                                       events[i].payload.size()));
      e.setPayloadFormat(schema::PayloadFormat::JSON);
    }
    auto words = capnp::messageToFlatArray(msg);
    auto bytes = words.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  }
  // One well-formed CommittedBatch frame.
  void push(const std::vector<Forged>& events) { push_frames({batch(events)}); }
  // One message of these frames.
  void push_frames(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      if (zmq_send(push_, frames[i].data(), frames[i].size(), i + 1 < frames.size() ? ZMQ_SNDMORE : 0) < 0)
        throw std::runtime_error("zmq_send failed");
  }

 private:
  void* ctx_;
  void* push_;
};

// An event as the store holds it (what every subscriber must see).
struct Row {
  std::uint64_t seq;
  std::string id;  // lowercase hex, no dashes
  std::string stream;
  std::string payload;
  bool operator==(const Row&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << "{" << r.seq << " " << r.id << " " << r.stream << " " << r.payload << "}";
}

std::vector<Row> stored_rows(Cluster& cluster) {
  auto c = cluster.store().connect();
  auto rs = c->query("SELECT global_seq, LOWER(HEX(event_id)), stream, payload FROM events ORDER BY global_seq");
  std::vector<Row> out;
  while (rs->next())
    out.push_back({rs->getUInt64(1), std::string(rs->getString(2).c_str()), std::string(rs->getString(3).c_str()),
                   std::string(rs->getString(4).c_str())});
  return out;
}

std::vector<Row> rows_of(const std::vector<FeedRecord>& got) {
  std::vector<Row> out;
  for (const auto& r : got) out.push_back({r.seq, without_dashes(r.event_id), r.stream, r.payload});
  return out;
}

std::vector<std::uint64_t> seqs_of(const std::vector<Row>& rows) {
  std::vector<std::uint64_t> out;
  for (const auto& r : rows) out.push_back(r.seq);
  return out;
}

client::NewEvent event() {
  client::NewEvent e;
  e.type = "Real";
  e.payload = "{\"real\":true}";
  return e;
}

// Waits until `n` more heartbeats arrived: the dispatcher's loop went round for that long.
bool wait_heartbeats(const FeedRecorder& rec, std::uint64_t n, std::chrono::milliseconds timeout) {
  const auto until = rec.heartbeats() + n;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (rec.heartbeats() < until) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

template <typename F>
bool wait_until(F&& done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The event id the store holds at `seq`.
RawId stored_id(Cluster& cluster, std::uint64_t seq) {
  for (const auto& r : stored_rows(cluster)) {
    if (r.seq != seq) continue;
    RawId id{};
    for (std::size_t i = 0; i < id.size(); ++i)
      id[i] = static_cast<std::uint8_t>(std::stoi(r.id.substr(2 * i, 2), nullptr, 16));
    return id;
  }
  throw std::runtime_error("no stored event at " + std::to_string(seq));
}

TEST(FeedTrustTest, ForgedBatchesNeitherReachSubscribersNorMakeThemMissRealEvents) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  client::Client c(cluster.client_options());
  for (int i = 0; i < 3; ++i) c.append("real-1", ExpectedVersion::any(), {event()});
  const std::uint64_t head = cluster.head();
  ASSERT_TRUE(rec.wait_for(head, 5s));

  Forger forger(cluster.pull_endpoint);
  // Ahead of the store: the next positions, and one far beyond them, in made-up streams.
  forger.push({{head + 1, "forged-1"}, {head + 2, "forged-1"}, {head + 3, "forged-1"}, {head + 4, "forged-1"}});
  forger.push({{head + 40, "forged-2"}});
  // At stored positions: another event; the stored event id in another stream; and a duplicate
  // of a published event (its id and stream) with another payload.
  forger.push({{2, "real-1"}, {3, "forged-3", stored_id(cluster, 3)}, {1, "real-1", stored_id(cluster, 1)}});
  EXPECT_TRUE(cluster.dispatcher().wait_for_log("refused a feed event", 5s)) << "refusals are logged";
  // A dispatcher that believed them would have published them and, after --hole-settle-ms
  // (100 ms), declared the ids up to head + 40 holes.
  ASSERT_TRUE(wait_heartbeats(rec, 10, 5s));
  EXPECT_EQ(rec.last_heartbeat_head(), head) << "a forged position reached the heartbeat";

  // Real events now commit at the positions the forger used; each must be published live.
  for (int i = 0; i < 12; ++i) c.append("real-2", ExpectedVersion::any(), {event(), event(), event(), event()});
  const auto stored = stored_rows(cluster);
  ASSERT_EQ(stored.back().seq, head + 48);
  EXPECT_TRUE(rec.wait_for(stored.back().seq, 10s));
  ASSERT_TRUE(wait_heartbeats(rec, 2, 5s));  // anything published after it is in too
  EXPECT_EQ(rows_of(rec.events()), stored);
  EXPECT_TRUE(is_exact_chain(rec.events(), seqs_of(stored), 0));
  EXPECT_EQ(rec.last_heartbeat_head(), stored.back().seq);
}

TEST(FeedTrustTest, AFeedEventIsPublishedWithTheStoresBytesNotTheFeeds) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher({"--dispatcher.poll-ms", "60000"});  // only the feed tells it about a direct write
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  client::Client c(cluster.client_options());
  c.append("real-1", ExpectedVersion::any(), {event()});
  ASSERT_TRUE(rec.wait_for(cluster.head(), 5s));

  // Committed behind the writer's back, so the writer never pushes it; the forger has learnt its
  // id and stream (e.g. it made the append) and pushes it first, with a payload of its own.
  OpenTransaction direct(cluster.store(), "direct-1");
  direct.commit();
  Forger forger(cluster.pull_endpoint);
  forger.push({{direct.id(), "direct-1", stored_id(cluster, direct.id()), "{\"forged\":true}"}});
  ASSERT_TRUE(rec.wait_for(direct.id(), 5s));
  const auto stored = stored_rows(cluster);
  EXPECT_EQ(rows_of(rec.events()), stored) << "the published payload must be the store's";
  EXPECT_TRUE(is_exact_chain(rec.events(), seqs_of(stored), 0));
}

TEST(FeedTrustTest, ASubscriptionRunningThroughADispatcherRestartGetsExactlyTheStoresEvents) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_reader();
  cluster.start_dispatcher();
  client::Client c(cluster.client_options());
  for (int i = 0; i < 5; ++i) c.append("real-1", ExpectedVersion::any(), {event()});
  const std::uint64_t head = cluster.head();

  std::mutex mu;
  std::vector<Row> got;  // guarded by mu
  auto sub = c.subscribe(GlobalSeq(1), {}, [&](const client::RecordedEvent& e) {
    std::lock_guard lock(mu);
    got.push_back({e.global_seq.value(), without_dashes(e.id.to_string()), e.stream, e.payload});
  });
  ASSERT_TRUE(wait_until([&] { return sub->live() && sub->position().value() >= head; }, 10s));
  FeedRecorder rec(cluster.pub_endpoint);  // to tell how long the dispatcher has run
  ASSERT_TRUE(rec.wait_connected(5s));

  Forger forger(cluster.pull_endpoint);
  forger.push({{head + 1, "forged-1"}, {head + 2, "forged-1"}});
  forger.push({{head + 30, "forged-1"}});
  EXPECT_TRUE(cluster.dispatcher().wait_for_log("refused a feed event", 5s));
  // Time for a dispatcher that believed them to publish them and declare holes up to head + 30.
  ASSERT_TRUE(wait_heartbeats(rec, 6, 5s));

  cluster.kill_dispatcher();
  // While it is down, real events commit and forged ones queue in the forger's socket; both
  // reach the new dispatcher as soon as it binds.
  for (int i = 0; i < 5; ++i) c.append("real-2", ExpectedVersion::any(), {event(), event()});
  forger.push({{head + 3, "forged-2"}, {head + 4, "forged-2"}});
  forger.push({{head + 500, "forged-2"}});
  cluster.start_dispatcher();
  EXPECT_TRUE(cluster.dispatcher().wait_for_log("refused a feed event", 5s));
  for (int i = 0; i < 10; ++i) c.append("real-3", ExpectedVersion::any(), {event(), event(), event()});

  const auto stored = stored_rows(cluster);
  ASSERT_EQ(stored.back().seq, head + 40);
  EXPECT_TRUE(wait_until([&] { return sub->position().value() >= stored.back().seq; }, 15s));
  // Anything delivered past the store's last event would come within a few heartbeats.
  ASSERT_TRUE(wait_heartbeats(rec, 6, 5s));
  sub->stop();
  ASSERT_FALSE(sub->error());
  std::lock_guard lock(mu);
  EXPECT_EQ(got, stored);
}

TEST(FeedTrustTest, MalformedMultipartFeedMessagesAreLoggedAndBelievedInNoPart) {
  Cluster cluster;
  cluster.start_writer();
  cluster.start_dispatcher();
  FeedRecorder rec(cluster.pub_endpoint);
  ASSERT_TRUE(rec.wait_connected(5s));
  client::Client c(cluster.client_options());
  c.append("real-1", ExpectedVersion::any(), {event()});
  const std::uint64_t head = cluster.head();
  ASSERT_TRUE(rec.wait_for(head, 5s));

  Forger forger(cluster.pull_endpoint);
  for (int i = 0; i < 300; ++i) forger.push_frames({"not a batch", "nor this"});
  EXPECT_TRUE(cluster.dispatcher().wait_for_log("ignoring a feed message", 5s))
      << "300 malformed multipart messages and not one log line";
  // A well-formed batch as the last frame of a multipart message is not a batch either.
  for (int i = 0; i < 300; ++i) forger.push_frames({"junk", Forger::batch({{head + 1, "forged-1"}})});
  ASSERT_TRUE(wait_heartbeats(rec, 10, 5s));
  EXPECT_EQ(rec.last_heartbeat_head(), head);

  c.append("real-2", ExpectedVersion::any(), {event()});
  const auto stored = stored_rows(cluster);
  EXPECT_TRUE(rec.wait_for(stored.back().seq, 5s));
  ASSERT_TRUE(wait_heartbeats(rec, 2, 5s));
  EXPECT_EQ(rows_of(rec.events()), stored);
  EXPECT_TRUE(is_exact_chain(rec.events(), seqs_of(stored), 0));
}

}  // namespace
}  // namespace even::test
