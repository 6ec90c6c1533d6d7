// Persistent subscription groups end to end: a real MariaDB, real even-writer, even-reader and
// even-groups processes, consumers as even-group-consumer processes (SIGKILLed where the test says)
// and the client library's GroupsClient / PersistentSubscription, over loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <zmq_addon.hpp>

#include "even/client/client.h"
#include "even/client/persistent_subscription.h"
#include "even/common/wire.h"
#include "even/schemas/groups.capnp.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {
namespace {

namespace gs = schema::groups;
using namespace std::chrono_literals;

std::string prefix() {
  static std::atomic<int> n{0};
  return "/tmp/even-groups-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// One line of an even-group-consumer --out file.
struct Handled {
  std::int64_t at_ns;
  std::uint64_t global_seq;
  std::string stream;
  std::int64_t stream_seq;
  std::uint32_t retry_count;
  bool replayed;
};

std::vector<Handled> read_handled(const std::string& path) {
  std::vector<Handled> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    Handled h{};
    int replayed = 0;
    if (s >> h.at_ns >> h.global_seq >> h.stream >> h.stream_seq >> h.retry_count >> replayed) {
      h.replayed = replayed != 0;
      out.push_back(h);
    }
  }
  return out;
}

// The lines of several consumers' files, and the events they name.
std::vector<Handled> read_handled(const std::vector<std::string>& paths) {
  std::vector<Handled> all;
  for (const auto& p : paths)
    for (auto& h : read_handled(p)) all.push_back(std::move(h));
  return all;
}

std::set<std::uint64_t> global_seqs(const std::vector<Handled>& handled) {
  std::set<std::uint64_t> out;
  for (const auto& h : handled) out.insert(h.global_seq);
  return out;
}

// A store with even-writer, even-reader and even-groups on loopback.
class GroupsCluster {
 public:
  GroupsCluster()
      : writer_endpoint(loopback_endpoint()),
        reader_endpoint(loopback_endpoint()),
        groups_endpoint(loopback_endpoint()),
        log_prefix(prefix()) {
    std::vector<std::string> w = {bin("services/writer/even-writer"), "--writer-endpoint", writer_endpoint,
                                  "--writer.no-standby"};
    for (auto& f : db_flags(store.db())) w.push_back(f);
    writer = std::make_unique<Process>(w, log_prefix + "-writer.log");
    if (!writer->wait_for_log("serving appends", 20s)) throw std::runtime_error("even-writer: " + writer->log());
    std::vector<std::string> r = {bin("services/reader/even-reader"), "--reader-endpoint", reader_endpoint,
                                  "--reader.workers", "1"};
    for (auto& f : db_flags(store.db())) r.push_back(f);
    reader = std::make_unique<Process>(r, log_prefix + "-reader.log");
    if (!reader->wait_for_log("serving reads", 20s)) throw std::runtime_error("even-reader: " + reader->log());
    start_groups();
    client = std::make_unique<client::Client>(client_options());
    groups = std::make_unique<client::GroupsClient>(client_options());
  }

  ~GroupsCluster() {
    consumers.clear();
    groups.reset();
    client.reset();
    for (auto* p : {&service, &reader, &writer})
      if (*p) {
        (*p)->signal(SIGTERM);
        (*p)->wait(10s);
      }
  }

  void start_groups() {
    std::vector<std::string> g = {bin("services/groups/even-groups"), "--groups-endpoint", groups_endpoint,
                                  "--writer-endpoint", writer_endpoint, "--groups.consumer-timeout-ms", "3000",
                                  "--groups.max-consumers", "5",
                                  "--log-level", "debug"};
    for (auto& f : db_flags(store.db())) g.push_back(f);
    service = std::make_unique<Process>(g, log_prefix + "-groups" + std::to_string(starts++) + ".log");
    if (!service->wait_for_log("serving groups", 20s)) throw std::runtime_error("even-groups: " + service->log());
  }

  client::ClientOptions client_options() const {
    client::ClientOptions co;
    co.writer_endpoint = writer_endpoint;
    co.reader_endpoint = reader_endpoint;
    co.groups_endpoint = groups_endpoint;
    co.timeout = 20s;
    co.resend_after = 300ms;
    return co;
  }

  // Appends `per_stream` events to each of `streams` streams "<category>-<i>", interleaved, in
  // appends of 10; events whose k % poison_every == poison_every - 1 get type "Poison".
  std::vector<std::uint64_t> append(const std::string& category, int streams, int per_stream, int poison_every = 0) {
    std::vector<std::uint64_t> seqs;
    for (int k = 0; k < per_stream; k += 10)
      for (int s = 0; s < streams; ++s) {
        std::vector<client::NewEvent> batch;
        for (int j = k; j < std::min(per_stream, k + 10); ++j) {
          client::NewEvent e;
          e.type = poison_every > 0 && j % poison_every == poison_every - 1 ? "Poison" : "Good";
          e.payload = "{\"k\":" + std::to_string(j) + "}";
          batch.push_back(std::move(e));
        }
        auto r = client->append(category + "-" + std::to_string(s), ExpectedVersion::any(), batch);
        if (r.last_global_seq.value() - r.first_global_seq.value() + 1 != batch.size())
          throw std::runtime_error("an append's events did not get consecutive positions");
        for (std::size_t i = 0; i < batch.size(); ++i) seqs.push_back(r.first_global_seq.value() + i);
      }
    return seqs;
  }

  // Starts a consumer process; returns its --out file.
  std::string start_consumer(const std::string& group, std::vector<std::string> extra = {}) {
    const std::string out = log_prefix + "-consumer" + std::to_string(consumers.size()) + ".out";
    std::vector<std::string> argv = {bin("tools/even-group-consumer"), "--groups-endpoint", groups_endpoint, "--group",
                                     group, "--out", out};
    for (auto& e : extra) argv.push_back(e);
    consumers.push_back(std::make_unique<Process>(argv, log_prefix + "-consumer" + std::to_string(consumers.size()) + ".log"));
    return out;
  }

  client::GroupInfo info(const std::string& name) {
    for (auto& g : groups->list())
      if (g.name == name) return g;
    throw std::runtime_error("no group " + name);
  }

  // Waits until the group's checkpoint reaches `position`; false on timeout.
  bool wait_checkpoint(const std::string& name, std::uint64_t position, std::chrono::seconds timeout = 60s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (info(name).checkpoint.value() >= position) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  TestStore store;
  std::string writer_endpoint, reader_endpoint, groups_endpoint, log_prefix;
  int starts = 0;
  std::unique_ptr<Process> writer, reader, service;
  std::vector<std::unique_ptr<Process>> consumers;
  std::unique_ptr<client::Client> client;
  std::unique_ptr<client::GroupsClient> groups;
};

client::GroupSettings category_group(const std::string& category, std::chrono::milliseconds ack_timeout,
                                     std::uint32_t max_retries = 10) {
  client::GroupSettings s;
  s.source = client::GroupSource::category;
  s.value = category;
  s.ack_timeout = ack_timeout;
  s.max_retries = max_retries;
  s.max_in_flight = 10;
  return s;
}

// Per-stream order under at-least-once: on the merged timeline of all consumers, whenever an
// event of a stream is handled, every earlier event of that stream has been handled before.
void expect_stream_order(std::vector<Handled> all) {
  std::sort(all.begin(), all.end(), [](const Handled& a, const Handled& b) { return a.at_ns < b.at_ns; });
  std::map<std::string, std::int64_t> highest;  // per stream: highest stream_seq handled so far
  int violations = 0;
  for (const auto& h : all) {
    auto& top = highest[h.stream];
    if (h.stream_seq > top + 1 && ++violations <= 5)
      ADD_FAILURE() << "stream " << h.stream << ": event " << h.stream_seq << " handled before event " << top + 1;
    top = std::max(top, h.stream_seq);
  }
  EXPECT_EQ(violations, 0);
}

TEST(PersistentSubscription, FourConsumersOneKilledMidRunEveryEventAckedInStreamOrder) {
  GroupsCluster c;
  c.groups->create("orders", category_group("order", 1500ms));
  const auto seqs = c.append("order", 20, 40);  // 800 events
  std::vector<std::string> outs, acked_files;
  for (int i = 0; i < 4; ++i) {
    acked_files.push_back(c.log_prefix + "-acked" + std::to_string(i));
    outs.push_back(c.start_consumer("orders", {"--work-us", "4000", "--acked", acked_files.back()}));
  }
  // Kill the first consumer once it is well into its share.
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (read_handled(outs[0]).size() < 40 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  ASSERT_GE(read_handled(outs[0]).size(), 40u) << "the first consumer handled too little; its log:\n"
                                               << c.consumers[0]->log();
  c.consumers[0]->signal(SIGKILL);
  c.consumers[0]->wait(5s);
  ASSERT_LT(c.info("orders").checkpoint.value(), seqs.back()) << "the run ended before the kill: nothing tested";

  ASSERT_TRUE(c.wait_checkpoint("orders", seqs.back())) << c.service->log();
  const auto all = read_handled(outs);
  const auto handled = global_seqs(all);
  // Lost: no consumer sent an ack for it (handled is not enough: the ack may never have left). Of
  // the killed consumer, what it handled counts: it may die between sending an ack and writing
  // its line.
  std::set<std::uint64_t> acked = global_seqs(read_handled(outs[0]));
  for (const auto& f : acked_files) {
    std::ifstream in(f);
    for (std::uint64_t s; in >> s;) acked.insert(s);
  }
  std::size_t lost = 0;
  for (auto s : seqs) lost += acked.count(s) ? 0 : 1;
  const auto info = c.info("orders");
  std::cout << "events " << seqs.size() << ", handled " << all.size() << " times (" << handled.size()
            << " unique), lost " << lost << ", redelivered " << info.redelivered << "\n";
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(handled.size(), seqs.size());
  EXPECT_GT(info.redelivered, 0u) << "the killed consumer's unacked events were not delivered again";
  EXPECT_EQ(info.in_flight, 0u);
  // The killed one is dropped once silent for the consumer timeout (3 s here).
  const auto dropped_by = std::chrono::steady_clock::now() + 15s;
  while (c.info("orders").consumers != 3u && std::chrono::steady_clock::now() < dropped_by)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(c.info("orders").consumers, 3u);
  expect_stream_order(all);
}

TEST(PersistentSubscription, EventsThatAlwaysFailAreParkedAndReplayParkedHandsThemOutAgain) {
  GroupsCluster c;
  c.groups->create("pay", category_group("payment", 2000ms, /*max_retries=*/2));
  const auto seqs = c.append("payment", 2, 10, /*poison_every=*/5);  // 20 events, 4 of them Poison
  std::set<std::uint64_t> poison;
  for (std::size_t i = 0; i < seqs.size(); ++i)
    if (i % 10 % 5 == 4) poison.insert(seqs[i]);
  ASSERT_EQ(poison.size(), 4u);
  const auto out = c.start_consumer("pay", {"--fail-type", "Poison"});
  ASSERT_TRUE(c.wait_checkpoint("pay", seqs.back())) << c.service->log();

  // Each poison event was delivered 1 + max_retries times, then parked.
  std::map<std::uint64_t, int> deliveries;
  for (const auto& h : read_handled(out)) ++deliveries[h.global_seq];
  for (auto s : poison) EXPECT_EQ(deliveries[s], 3) << "global seq " << s;
  EXPECT_EQ(c.info("pay").parked, 4u);
  // The parked stream is an ordinary stream, readable through even-reader, naming each original.
  std::set<std::uint64_t> parked;
  for (const auto& e : c.client->read_stream("parked-pay", StreamSeq(1))) {
    EXPECT_EQ(e.type, "even.parked");  // a type of its own: not what a projection of Poison reads
    EXPECT_NE(e.metadata.find("\"type\":\"Poison\""), std::string::npos) << e.metadata;
    const auto at = e.metadata.find("\"global_seq\":");
    ASSERT_NE(at, std::string::npos) << e.metadata;
    parked.insert(std::stoull(e.metadata.substr(at + 13)));
  }
  EXPECT_EQ(parked, poison);

  // A fixed consumer, then replay-parked: the parked events come again (the originals), and are acked.
  c.consumers[0]->signal(SIGTERM);
  EXPECT_EQ(c.consumers[0]->wait(10s), 0);
  const auto fixed = c.start_consumer("pay");
  std::string said;
  ASSERT_EQ(run_tool({bin("tools/evenctl"), "group", "replay-parked", "pay", "--groups-endpoint", c.groups_endpoint},
                     &said),
            0)
      << said;
  EXPECT_NE(said.find("replaying 4 parked events"), std::string::npos) << said;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (c.info("pay").replay_pending > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(c.info("pay").replay_pending, 0u);
  std::set<std::uint64_t> replayed;
  for (const auto& h : read_handled(fixed))
    if (h.replayed) replayed.insert(h.global_seq);
  EXPECT_EQ(replayed, poison);
  EXPECT_EQ(c.info("pay").parked, 4u);  // none parked again
}

// A group over $all reads every stream but the parked ones: its own copies would come back to it,
// fail again and be parked again, forever.
TEST(PersistentSubscription, AGroupOverAllThatParksDoesNotReadItsParkedCopiesBack) {
  GroupsCluster c;
  client::GroupSettings all;
  all.source = client::GroupSource::all;
  all.ack_timeout = 2000ms;
  all.max_retries = 1;
  all.max_in_flight = 10;
  c.groups->create("everything", all);
  const auto seqs = c.append("item", 2, 10, /*poison_every=*/5);  // 20 events, 4 of them Poison
  const auto out = c.start_consumer("everything", {"--fail-type", "Poison"});
  ASSERT_TRUE(c.wait_checkpoint("everything", seqs.back())) << c.service->log();
  // The copies are appended after the originals; the checkpoint goes past them, not handing them out.
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (c.info("everything").parked < 4 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(c.info("everything").parked, 4u) << c.service->log();
  const std::uint64_t head = c.client->head().value();
  ASSERT_GT(head, seqs.back());
  ASSERT_TRUE(c.wait_checkpoint("everything", head)) << c.service->log();
  std::this_thread::sleep_for(1500ms);  // time enough for a copy to be handed out, fail and be parked
  EXPECT_EQ(c.info("everything").parked, 4u);
  EXPECT_EQ(c.client->stream_version("parked-everything"), StreamSeq(4));
  EXPECT_EQ(c.client->head().value(), head) << "more copies were appended";
  std::size_t copies_handled = 0;
  for (const auto& h : read_handled(out)) copies_handled += h.stream.starts_with("parked-") ? 1 : 0;
  EXPECT_EQ(copies_handled, 0u);
  EXPECT_EQ(c.info("everything").in_flight, 0u);
}

// A batch that takes longer than the consumer timeout (3 s here): the client acks and heartbeats
// while it runs, so the service neither drops the consumer nor hands its events out again.
TEST(PersistentSubscription, ASlowBatchIsAckedAsItGoesAndKeepsItsConsumerKnown) {
  GroupsCluster c;
  c.groups->create("slow", category_group("slow", 60000ms));
  const auto seqs = c.append("slow", 10, 1);  // 10 streams, one event each: all in flight at once
  const auto out = c.start_consumer("slow", {"--work-us", "700000"});  // 7 s for all
  const auto until = std::chrono::steady_clock::now() + 30s;
  std::uint64_t acked_early = 0;
  while (read_handled(out).size() < seqs.size() && std::chrono::steady_clock::now() < until) {
    if (read_handled(out).size() == 5) acked_early = std::max<std::uint64_t>(acked_early, c.info("slow").acked);
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(c.wait_checkpoint("slow", seqs.back(), 30s)) << c.service->log();
  const auto info = c.info("slow");
  EXPECT_GE(acked_early, 3u) << "the acks waited for the end of the batch";
  EXPECT_EQ(info.redelivered, 0u) << c.service->log();
  EXPECT_EQ(info.consumers, 1u) << "the consumer was dropped as silent";
  EXPECT_EQ(read_handled(out).size(), seqs.size());
}

// Parking appends without waiting: a writer that does not answer (SIGSTOPped) holds back the
// parked events only; the service keeps answering and the other events are acked meanwhile.
TEST(PersistentSubscription, AWriterThatDoesNotAnswerHoldsBackParkingOnly) {
  GroupsCluster c;
  auto s = category_group("wpay", 60000ms, /*max_retries=*/0);
  s.ordering = client::GroupOrdering::unordered;
  c.groups->create("w", s);
  const auto seqs = c.append("wpay", 4, 10, /*poison_every=*/5);  // 40 events, 8 of them Poison
  c.writer->signal(SIGSTOP);
  struct Resume {
    Process& p;
    ~Resume() { p.signal(SIGCONT); }
  } resume{*c.writer};
  c.start_consumer("w", {"--fail-type", "Poison"});
  auto slowest = std::chrono::steady_clock::duration::zero();
  const auto until = std::chrono::steady_clock::now() + 8s;
  client::GroupInfo info;
  while (std::chrono::steady_clock::now() < until) {
    const auto asked = std::chrono::steady_clock::now();
    info = c.info("w");
    slowest = std::max(slowest, std::chrono::steady_clock::now() - asked);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(info.acked, 32u);
  EXPECT_EQ(info.parked, 0u);
  EXPECT_LT(info.checkpoint.value(), seqs.back());
  EXPECT_LT(slowest, 1s) << "a list took " << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
                         << " ms while the writer hung";
  c.writer->signal(SIGCONT);
  ASSERT_TRUE(c.wait_checkpoint("w", seqs.back(), 60s)) << c.service->log();
  EXPECT_EQ(c.info("w").parked, 8u);
  EXPECT_EQ(c.client->stream_version("parked-w"), StreamSeq(8));  // each copy once
}

TEST(PersistentSubscription, ARestartOfTheServiceLosesNothing) {
  GroupsCluster c;
  c.groups->create("ship", category_group("ship", 1500ms));
  const auto seqs = c.append("ship", 10, 50);  // 500 events
  std::vector<std::string> outs;
  for (int i = 0; i < 2; ++i) outs.push_back(c.start_consumer("ship", {"--work-us", "3000"}));
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (read_handled(outs).size() < 100 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  c.service->signal(SIGKILL);  // harsher than a restart: no checkpoint saved at stop
  c.service->wait(5s);
  c.start_groups();  // the consumers join again by themselves
  ASSERT_TRUE(c.wait_checkpoint("ship", seqs.back())) << c.service->log();
  const auto handled = global_seqs(read_handled(outs));
  for (auto s : seqs) EXPECT_TRUE(handled.count(s)) << "global seq " << s << " never handled";

  // The checkpoint is in the store: after a clean restart the group resumes where it was.
  c.consumers.clear();
  c.service->signal(SIGTERM);
  EXPECT_EQ(c.service->wait(10s), 0);
  c.start_groups();
  EXPECT_EQ(c.info("ship").checkpoint.value(), seqs.back());
  EXPECT_EQ(c.store.scalar("SELECT checkpoint FROM subscription_groups WHERE name = 'ship'"),
            static_cast<std::int64_t>(seqs.back()));
}

// A raw DEALER speaking groups.capnp, for what the client library never sends.
class RawPeer {
 public:
  explicit RawPeer(const std::string& endpoint) : ctx_(1), s_(ctx_, zmq::socket_type::dealer) {
    s_.set(zmq::sockopt::linger, 0);
    s_.set(zmq::sockopt::rcvtimeo, 5000);
    s_.connect(endpoint);
  }
  void send_raw(std::vector<std::string> frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      s_.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  template <typename Build>
  void send(Build build) {
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<gs::GroupRequest>();
    r.setProtocolVersion(schema::PROTOCOL_VERSION);
    r.setRequestId(++id_);
    build(r);
    auto frame = wire::encode(mb);
    s_.send(frame, zmq::send_flags::none);
  }
  // The next reply that is not a delivery: (error code or none, message, refused ids).
  struct Answer {
    gs::GroupReply::Which kind;
    gs::GroupError code = gs::GroupError::NONE;
    std::string message;
    std::vector<std::uint64_t> ids;
    std::vector<std::uint64_t> delivered;  // delivery ids seen on the way
  };
  Answer next() {
    Answer a{};
    while (true) {
      zmq::message_t m;
      if (!s_.recv(m)) throw std::runtime_error("no answer from even-groups");
      auto d = wire::decode<gs::GroupReply>(std::move(m), wire::Limits{});
      auto& decoded = std::get<wire::Decoded>(d);
      auto r = decoded.root<gs::GroupReply>();
      if (r.isDeliveries()) {
        for (auto x : r.getDeliveries()) a.delivered.push_back(x.getDeliveryId());
        continue;
      }
      a.kind = r.which();
      if (r.isError()) {
        a.code = r.getError().getCode();
        a.message = wire::text_string(r.getError().getMessage());
        for (auto id : r.getError().getDeliveryIds()) a.ids.push_back(id);
      }
      return a;
    }
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t s_;
  std::uint64_t id_ = 0;
};

TEST(PersistentSubscription, BadInputGetsAClearErrorAndChangesNothing) {
  GroupsCluster c;
  // Bad names and settings, through the client and evenctl.
  EXPECT_THROW(c.groups->create("no spaces", category_group("x", 1000ms)), client::InvalidRequest);
  auto bad = category_group("x", 1000ms);
  bad.max_in_flight = 0;
  EXPECT_THROW(c.groups->create("g", bad), client::InvalidRequest);
  bad = category_group("has-dash", 1000ms);
  EXPECT_THROW(c.groups->create("g", bad), client::InvalidRequest);
  EXPECT_TRUE(c.groups->list().empty());
  EXPECT_THROW(c.groups->remove("nope"), client::NotFound);
  EXPECT_THROW(c.groups->replay_parked("nope"), client::NotFound);
  std::string said;
  EXPECT_EQ(run_tool({bin("tools/evenctl"), "group", "delete", "nope", "--groups-endpoint", c.groups_endpoint}, &said), 3)
      << said;
  EXPECT_NE(said.find("no group 'nope'"), std::string::npos) << said;
  EXPECT_EQ(run_tool({bin("tools/evenctl"), "group", "create", "g", "--groups-endpoint", c.groups_endpoint}, &said), 2)
      << said;
  EXPECT_NE(said.find("exactly one of --stream"), std::string::npos) << said;

  auto inv = category_group("inv", 60000ms);
  inv.ordering = client::GroupOrdering::unordered;  // one stream, two events in flight at once
  c.groups->create("inv", inv);
  // The same create again is fine; other settings are refused.
  c.groups->create("inv", inv);
  EXPECT_THROW(c.groups->create("inv", category_group("inv", 60000ms)), client::InvalidRequest);
  const auto seqs = c.append("inv", 1, 5);

  RawPeer peer(c.groups_endpoint);
  peer.send_raw({"not capnp at all"});
  auto a = peer.next();
  EXPECT_EQ(a.code, gs::GroupError::MALFORMED) << a.message;
  peer.send_raw({"two", "frames"});
  a = peer.next();
  EXPECT_EQ(a.code, gs::GroupError::MALFORMED) << a.message;
  peer.send([](gs::GroupRequest::Builder r) { r.initAck(2).set(0, 1); });
  a = peer.next();
  EXPECT_EQ(a.code, gs::GroupError::NOT_SUBSCRIBED) << a.message;
  peer.send([](gs::GroupRequest::Builder r) { r.initSubscribe().setGroup("nope"); });
  a = peer.next();
  EXPECT_EQ(a.code, gs::GroupError::UNKNOWN_GROUP) << a.message;

  // A consumer with room for 2 that acks ids it was never given: refused by id, nothing settled.
  peer.send([](gs::GroupRequest::Builder r) {
    auto s = r.initSubscribe();
    s.setGroup("inv");
    s.setMaxInFlight(2);
  });
  a = peer.next();
  ASSERT_EQ(a.kind, gs::GroupReply::SUBSCRIBED) << a.message;
  // Deliveries come once the events are below the settled head (about --groups.hole-settle-ms).
  std::vector<std::uint64_t> given;
  for (int i = 0; i < 50 && given.size() < 2; ++i) {
    std::this_thread::sleep_for(50ms);
    peer.send([](gs::GroupRequest::Builder r) { r.setHeartbeat(); });
    a = peer.next();
    EXPECT_EQ(a.kind, gs::GroupReply::OK);
    given.insert(given.end(), a.delivered.begin(), a.delivered.end());
  }
  ASSERT_EQ(given.size(), 2u) << "expected the first two events";
  const std::uint64_t forged = given.back() + 1000;
  peer.send([&](gs::GroupRequest::Builder r) {
    auto l = r.initAck(1);
    l.set(0, forged);
  });
  a = peer.next();
  EXPECT_EQ(a.code, gs::GroupError::UNKNOWN_DELIVERY) << a.message;
  EXPECT_EQ(a.ids, std::vector<std::uint64_t>{forged});
  auto info = c.info("inv");
  EXPECT_EQ(info.acked, 0u);
  EXPECT_EQ(info.in_flight, 2u);
  EXPECT_LT(info.checkpoint.value(), seqs.front());
  // The real ids are taken; the same ids again are refused (already settled).
  peer.send([&](gs::GroupRequest::Builder r) {
    auto l = r.initAck(2);
    l.set(0, given[0]);
    l.set(1, given[1]);
  });
  peer.send([&](gs::GroupRequest::Builder r) { r.initAck(1).set(0, given[0]); });
  a = peer.next();
  EXPECT_EQ(a.code, gs::GroupError::UNKNOWN_DELIVERY) << a.message;
  // The room the acks freed brings the next events.
  std::vector<std::uint64_t> more = a.delivered;
  for (int i = 0; i < 50 && more.size() < 2; ++i) {
    peer.send([](gs::GroupRequest::Builder r) { r.setHeartbeat(); });
    a = peer.next();
    more.insert(more.end(), a.delivered.begin(), a.delivered.end());
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(more.size(), 2u);
  EXPECT_EQ(c.info("inv").acked, 2u);

  // Another consumer acking the first one's delivery: refused by id, nothing settled.
  ASSERT_FALSE(more.empty());
  RawPeer other(c.groups_endpoint);
  other.send([](gs::GroupRequest::Builder r) {
    auto s = r.initSubscribe();
    s.setGroup("inv");
    s.setMaxInFlight(1);
  });
  a = other.next();
  ASSERT_EQ(a.kind, gs::GroupReply::SUBSCRIBED) << a.message;
  other.send([&](gs::GroupRequest::Builder r) { r.initAck(1).set(0, more[0]); });
  a = other.next();
  EXPECT_EQ(a.code, gs::GroupError::UNKNOWN_DELIVERY) << a.message;
  EXPECT_EQ(a.ids, std::vector<std::uint64_t>{more[0]});
  EXPECT_EQ(c.info("inv").acked, 2u);
  // The one that holds it still can.
  peer.send([&](gs::GroupRequest::Builder r) { r.initAck(1).set(0, more[0]); });
  peer.send([](gs::GroupRequest::Builder r) { r.setHeartbeat(); });
  a = peer.next();
  EXPECT_EQ(a.kind, gs::GroupReply::OK) << a.message;
  EXPECT_EQ(c.info("inv").acked, 3u);

  // --groups.max-consumers 5: a sixth consumer is refused, and no one is dropped for it.
  std::vector<std::unique_ptr<RawPeer>> crowd;
  for (int i = 0; i < 4; ++i) {
    crowd.push_back(std::make_unique<RawPeer>(c.groups_endpoint));
    crowd.back()->send([](gs::GroupRequest::Builder r) { r.initSubscribe().setGroup("inv"); });
    a = crowd.back()->next();
    if (i < 3) {
      EXPECT_EQ(a.kind, gs::GroupReply::SUBSCRIBED) << a.message;
    }
  }
  EXPECT_EQ(a.code, gs::GroupError::UNAVAILABLE) << a.message;
  EXPECT_NE(a.message.find("max-consumers"), std::string::npos) << a.message;
  EXPECT_EQ(c.info("inv").consumers, 5u);
}

}  // namespace
}  // namespace even::test
