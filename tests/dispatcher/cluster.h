// What the dispatcher and subscription tests share: a store with real even-writer,
// even-dispatcher and even-reader processes on loopback, a raw feed recorder (a SUB socket that
// keeps everything it receives) and helpers to append and to write to the store behind the
// writer's back (holes and late commits made with a second connection).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "even/client/client.h"
#include "even/client/subscription.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {

class Cluster {
 public:
  Cluster();
  ~Cluster();

  void start_writer();
  void start_dispatcher(std::vector<std::string> extra = {});
  void start_reader();
  Process& dispatcher() { return *dispatcher_; }
  void kill_dispatcher();  // SIGKILL and reap

  client::ClientOptions client_options() const;
  TestStore& store() { return store_; }
  // Committed global seqs in the store, ascending.
  std::vector<std::uint64_t> stored_seqs(std::uint64_t from = 1) const;
  std::uint64_t head() const;

  std::string pub_endpoint, pull_endpoint, writer_endpoint, reader_endpoint;

 private:
  std::string log_path(const std::string& name) const;
  TestStore store_;
  std::unique_ptr<Process> writer_, dispatcher_, reader_;
  int dispatcher_runs_ = 0;
};

// Inserts one event straight into the events table inside a transaction it keeps open until
// commit() or rollback() (or destruction: rollback). Its AUTO_INCREMENT id is allocated at once.
class OpenTransaction {
 public:
  OpenTransaction(const TestStore& store, const std::string& stream);
  ~OpenTransaction();
  std::uint64_t id() const { return id_; }
  void commit();
  void rollback();

 private:
  std::unique_ptr<store::Connection> conn_;
  std::uint64_t id_ = 0;
  bool open_ = true;
};

// A raw subscriber: a SUB socket on its own thread that records every event and heartbeat.
struct FeedRecord {
  std::uint64_t seq = 0, prev = 0, prev_in_category = 0;
  std::string stream;
  std::string event_id;  // canonical UUID form
  std::string payload;
};
class FeedRecorder {
 public:
  // `topic` is a subscription prefix: "ev|" for all events, "ev|<category>|" for one category.
  FeedRecorder(const std::string& endpoint, const std::string& topic = "ev|");
  ~FeedRecorder();
  std::vector<FeedRecord> events() const;
  std::uint64_t last_heartbeat_head() const { return hb_head_.load(); }
  std::uint64_t heartbeats() const { return heartbeats_.load(); }
  // Waits until an event with seq >= `seq` arrived.
  bool wait_for(std::uint64_t seq, std::chrono::milliseconds timeout) const;
  // Waits until the first heartbeat (the subscription is live).
  bool wait_connected(std::chrono::milliseconds timeout) const;

 private:
  void run(std::string endpoint, std::string topic);
  mutable std::mutex mu_;
  std::vector<FeedRecord> events_;
  std::atomic<std::uint64_t> last_seq_{0}, hb_head_{0}, heartbeats_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Collects what a CatchUpSubscription hands over (its handler runs on the subscription's thread).
class Collected {
 public:
  client::CatchUpSubscription::Handler handler();
  std::vector<std::uint64_t> seqs() const;
  std::vector<std::string> streams() const;
  // Waits until `sub` handled every event up to `seq`; false on timeout.
  bool wait_for(const client::CatchUpSubscription& sub, std::uint64_t seq, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::uint64_t> seqs_;    // guarded by mu_
  std::vector<std::string> streams_;   // guarded by mu_
};

// Appends from `threads` clients at once, `appends` each, 1..3 events per append, to streams
// "<category>-<thread>-<n % 5>". Returns the number of events appended.
std::size_t append_concurrently(const client::ClientOptions& options, int threads, int appends,
                                const std::string& category = "load");

// Checks that `got` is exactly `expected` (ascending global seqs) and that each event's prev
// pointer names the event before it (the first one's prev is `first_prev`).
::testing::AssertionResult is_exact_chain(const std::vector<FeedRecord>& got, const std::vector<std::uint64_t>& expected,
                                          std::uint64_t first_prev);

}  // namespace even::test
