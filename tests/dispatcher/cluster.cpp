#include "dispatcher/cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <zmq.hpp>

#include "even/common/net.h"
#include "even/common/wire.h"
#include "even/schemas/feed.capnp.h"
#include "support/test_client.h"

namespace even::test {

using namespace std::chrono_literals;

Cluster::Cluster()
    : pub_endpoint(loopback_endpoint()),
      pull_endpoint(loopback_endpoint()),
      writer_endpoint(loopback_endpoint()),
      reader_endpoint(loopback_endpoint()) {}

Cluster::~Cluster() {
  // Reverse order; SIGTERM first so that logs end cleanly, then the Process destructors SIGKILL.
  for (auto* p : {reader_.get(), dispatcher_.get(), writer_.get()})
    if (p) {
      p->signal(SIGTERM);
      p->wait(5s);
    }
}

std::string Cluster::log_path(const std::string& name) const {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  return "/tmp/even-" + test + "-" + name + "-" + std::to_string(::getpid()) + ".log";
}

void Cluster::start_writer() {
  std::vector<std::string> argv = {bin("services/writer/even-writer"), "--writer-endpoint", writer_endpoint,
                                   "--dispatcher-pull-endpoint", pull_endpoint};
  for (auto& f : db_flags(store_.db())) argv.push_back(f);
  writer_ = std::make_unique<Process>(argv, log_path("writer"));
  if (!writer_->wait_for_log("serving appends", 20s)) throw std::runtime_error("writer did not start:\n" + writer_->log());
}

void Cluster::start_dispatcher(std::vector<std::string> extra) {
  std::vector<std::string> argv = {bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint",
                                   pull_endpoint, "--dispatcher-pub-endpoint", pub_endpoint, "--dispatcher.heartbeat-ms", "50"};
  for (auto& f : db_flags(store_.db())) argv.push_back(f);
  for (auto& f : extra) argv.push_back(f);
  dispatcher_ = std::make_unique<Process>(argv, log_path("dispatcher" + std::to_string(dispatcher_runs_++)));
  if (!dispatcher_->wait_for_log("pulling committed events", 20s))
    throw std::runtime_error("dispatcher did not start:\n" + dispatcher_->log());
}

void Cluster::start_reader() {
  std::vector<std::string> argv = {bin("services/reader/even-reader"), "--reader-endpoint", reader_endpoint};
  for (auto& f : db_flags(store_.db())) argv.push_back(f);
  reader_ = std::make_unique<Process>(argv, log_path("reader"));
  // Give it a moment to bind; clients resend until it answers anyway.
  std::this_thread::sleep_for(300ms);
  if (!reader_->running()) throw std::runtime_error("reader did not start:\n" + reader_->log());
}

void Cluster::kill_dispatcher() {
  dispatcher_->signal(SIGKILL);
  dispatcher_->wait(5s);
}

client::ClientOptions Cluster::client_options() const {
  return test::client_options(writer_endpoint, reader_endpoint, pub_endpoint, 20s);
}

std::vector<std::uint64_t> Cluster::stored_seqs(std::uint64_t from) const {
  auto c = store_.connect();
  auto rs = c->query("SELECT global_seq FROM events WHERE global_seq >= " + std::to_string(from) +
                     " ORDER BY global_seq");
  std::vector<std::uint64_t> out;
  while (rs->next()) out.push_back(rs->getUInt64(1));
  return out;
}

std::uint64_t Cluster::head() const { return static_cast<std::uint64_t>(store_.scalar("SELECT MAX(global_seq) FROM events")); }

OpenTransaction::OpenTransaction(const TestStore& store, const std::string& stream) : conn_(store.connect()) {
  conn_->begin();
  std::string q =
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES (UNHEX(REPLACE(UUID(),'-','')), ";
  store::append_quoted(q, stream);
  q += ", 1, ";
  store::append_quoted(q, category_of(stream));
  q += ", 'Manual', 0, '', '{}', 1)";
  conn_->execute(q);
  id_ = conn_->last_insert_id();
}

OpenTransaction::~OpenTransaction() {
  if (open_) rollback();
}

void OpenTransaction::commit() {
  conn_->commit();
  open_ = false;
}

void OpenTransaction::rollback() {
  conn_->rollback();
  open_ = false;
}

FeedRecorder::FeedRecorder(const std::string& endpoint, const std::string& topic)
    : thread_(&FeedRecorder::run, this, endpoint, topic) {}

FeedRecorder::~FeedRecorder() {
  stop_ = true;
  thread_.join();
}

void FeedRecorder::run(std::string endpoint, std::string topic) {
  zmq::context_t ctx(1);
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::rcvhwm, 1000000);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, topic);
  sub.set(zmq::sockopt::subscribe, "hb|");
  sub.connect(endpoint);
  wire::Limits limits;
  while (!stop_) {
    zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}};
    net::poll(items, 1, std::chrono::milliseconds(20));
    while (auto m = wire::recv_with_topic(sub)) {
      auto d = wire::decode<schema::FeedMessage>(std::move(m->message), limits);
      auto* ok = std::get_if<wire::Decoded>(&d);
      if (!ok) continue;
      auto msg = ok->root<schema::FeedMessage>();
      if (msg.isHeartbeat()) {
        hb_head_ = msg.getHeartbeat().getHeadGlobalSeq();
        ++heartbeats_;
        continue;
      }
      auto fe = msg.getEvent();
      auto id = fe.getEvent().getEventId();
      auto payload = fe.getEvent().getPayload();
      FeedRecord r{fe.getEvent().getGlobalSeq(),
                   fe.getPrevGlobalSeq(),
                   fe.getPrevInCategory(),
                   wire::text_string(fe.getEvent().getStream()),
                   EventId::from_bytes(id.begin(), id.size()).value_or(EventId()).to_string(),
                   std::string(payload.asChars().begin(), payload.size())};
      {
        std::lock_guard lock(mu_);
        events_.push_back(r);
      }
      last_seq_ = std::max(last_seq_.load(), r.seq);
    }
  }
}

std::vector<FeedRecord> FeedRecorder::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

bool FeedRecorder::wait_for(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (last_seq_.load() < seq) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool FeedRecorder::wait_connected(std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (heartbeats_.load() == 0) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::size_t append_concurrently(const client::ClientOptions& options, int threads, int appends,
                                const std::string& category) {
  std::atomic<std::size_t> total{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      client::Client c(options);
      for (int n = 0; n < appends; ++n) {
        std::vector<client::NewEvent> evs(1 + (n + t) % 3);
        for (auto& e : evs) {
          e.type = "Loaded";
          e.payload = "{\"t\":" + std::to_string(t) + ",\"n\":" + std::to_string(n) + "}";
        }
        c.append(category + "-" + std::to_string(t) + "_" + std::to_string(n % 5), ExpectedVersion::any(), evs);
        total += evs.size();
      }
    });
  }
  for (auto& w : workers) w.join();
  return total.load();
}

::testing::AssertionResult is_exact_chain(const std::vector<FeedRecord>& got, const std::vector<std::uint64_t>& expected,
                                          std::uint64_t first_prev) {
  std::uint64_t prev = first_prev;
  for (std::size_t i = 0; i < std::max(got.size(), expected.size()); ++i) {
    if (i >= got.size()) return ::testing::AssertionFailure() << "missing from seq " << expected[i] << " (" << i << " of " << expected.size() << " received)";
    if (i >= expected.size()) return ::testing::AssertionFailure() << "extra event " << got[i].seq;
    if (got[i].seq != expected[i])
      return ::testing::AssertionFailure() << "event #" << i << " is seq " << got[i].seq << ", expected " << expected[i];
    if (got[i].prev != prev)
      return ::testing::AssertionFailure() << "event " << got[i].seq << " has prev " << got[i].prev << ", expected " << prev;
    prev = got[i].seq;
  }
  return ::testing::AssertionSuccess();
}

client::CatchUpSubscription::Handler Collected::handler() {
  return [this](const client::RecordedEvent& e) {
    std::lock_guard lock(mu_);
    seqs_.push_back(e.global_seq.value());
    streams_.push_back(e.stream);
  };
}

std::vector<std::uint64_t> Collected::seqs() const {
  std::lock_guard lock(mu_);
  return seqs_;
}

std::vector<std::string> Collected::streams() const {
  std::lock_guard lock(mu_);
  return streams_;
}

bool Collected::wait_for(const client::CatchUpSubscription& sub, std::uint64_t seq,
                         std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (sub.position().value() < seq) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace even::test
