// even-writer under faults: SIGKILL during a load, store connections killed mid-batch, and a
// standby taking over. Every append that got a success reply must be stored exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "writer_fixture.h"

namespace even::test {
namespace {

// Clients appending in a loop, each to its own stream, alternating buffered and serial appends,
// retrying the same events (same ids) after a timeout until they get an answer.
class Load {
 public:
  Load(const std::string& endpoint, int clients) {
    for (int c = 0; c < clients; ++c) threads_.emplace_back([this, endpoint, c] { run(endpoint, c); });
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  ~Load() {
    if (!threads_.empty()) stop();
  }
  std::map<std::string, std::vector<EventId>> acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  int acked_count() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (auto& [s, ids] : acked_) n += static_cast<int>(ids.size());
    return n;
  }
  int retries() const { return retries_; }

 private:
  void run(const std::string& endpoint, int c) {
    client::Client cl(client_options(endpoint, 3000));
    std::string stream = "load-" + std::to_string(c);
    std::int64_t version = 0;
    for (int i = 0; !stop_; ++i) {
      std::vector<client::NewEvent> events = {event("Loaded", "{\"i\":" + std::to_string(i) + "}"), event("Loaded")};
      bool serial = i % 2 == 1;
      for (int attempt = 0; attempt < 40; ++attempt) {
        auto ex = serial ? (version == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(version))
                         : ExpectedVersion::any();
        try {
          auto r = cl.append(stream, ex, events);
          version = r.last_stream_seq.value();
          std::lock_guard lock(mu_);
          for (auto& e : events) acked_[stream].push_back(e.id);
          break;
        } catch (const client::Timeout&) {
          ++retries_;  // outcome unknown: send the same events again
        } catch (const client::Unavailable&) {
          ++retries_;
        }
        if (stop_ && attempt > 10) break;
      }
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<int> retries_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::vector<EventId>> acked_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// Every acknowledged event is stored exactly once, at its stream's next position, and streams
// have no holes.
void expect_store_consistent(const TestStore& store, const Load& load) {
  auto conn = store.connect();
  for (const auto& [stream, ids] : load.acked()) {
    for (const auto& id : ids) {
      std::string sql = "SELECT COUNT(*) FROM events WHERE event_id = ";
      store::append_hex(sql, id.data(), 16);
      ASSERT_EQ(conn->query_int(sql).value_or(0), 1) << "acknowledged event " << id.to_string() << " of " << stream;
    }
    auto count = conn->query_int("SELECT COUNT(*) FROM events WHERE stream = '" + stream + "'").value_or(0);
    auto max = conn->query_int("SELECT MAX(stream_seq) FROM events WHERE stream = '" + stream + "'").value_or(0);
    auto version = conn->query_int("SELECT version FROM streams WHERE stream = '" + stream + "'").value_or(0);
    EXPECT_EQ(count, max) << "hole in " << stream;
    EXPECT_EQ(version, max) << stream;
    EXPECT_GE(count, static_cast<std::int64_t>(ids.size()));
  }
  EXPECT_EQ(conn->query_int("SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM events").value_or(-1), 0);
}

TEST(WriterFailover, SigkillDuringLoadLosesNoAcknowledgedAppend) {
  TestStore store;
  auto endpoint = loopback_endpoint();
  auto w1 = std::make_unique<WriterProcess>(store, endpoint);
  ASSERT_TRUE(w1->wait_serving()) << w1->process().log();
  Load load(endpoint, 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  int before = load.acked_count();
  w1->process().signal(SIGKILL);
  EXPECT_EQ(w1->process().wait(std::chrono::seconds(5)), 128 + SIGKILL);
  WriterProcess w2(store, endpoint);
  ASSERT_TRUE(w2.wait_serving()) << w2.process().log();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  load.stop();
  EXPECT_GT(before, 0);
  EXPECT_GT(load.acked_count(), before) << "the load did not resume on the restarted writer";
  expect_store_consistent(store, load);
}

TEST(WriterFailover, StoreConnectionKilledMidBatchIsResolvedFromTheStore) {
  TestStore store;
  WriterProcess w(store, loopback_endpoint());
  ASSERT_TRUE(w.wait_serving()) << w.process().log();
  Load load(w.endpoint(), 8);
  auto admin = store.connect();
  int kills = 0;
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto rs = admin->query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" + store.db().name +
                           "' AND ID <> CONNECTION_ID()");
    while (rs->next()) {
      try {
        admin->execute("KILL CONNECTION " + std::to_string(rs->getInt64(1)));
        ++kills;
      } catch (const sql::SQLException&) {
      }
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  int before_stop = load.acked_count();
  load.stop();
  EXPECT_GT(kills, 0);
  EXPECT_GT(before_stop, 0);
  EXPECT_TRUE(w.process().running()) << w.process().log();
  EXPECT_NE(w.process().log().find("store connection lost"), std::string::npos) << w.process().log();
  expect_store_consistent(store, load);
}

TEST(WriterFailover, StandbyTakesOverWhenTheMasterDies) {
  TestStore store;
  auto master = std::make_unique<WriterProcess>(store, loopback_endpoint());
  ASSERT_TRUE(master->wait_serving()) << master->process().log();
  WriterProcess standby(store, loopback_endpoint(), {}, "standby");
  EXPECT_TRUE(standby.process().wait_for_log("standby", std::chrono::seconds(10))) << standby.process().log();
  EXPECT_EQ(standby.process().log().find("serving appends"), std::string::npos);

  WriterProcess refused(store, loopback_endpoint(), {"--no-standby"}, "refused");
  EXPECT_NE(refused.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_NE(refused.process().log().find("master lock"), std::string::npos) << refused.process().log();

  client::Client c(client_options(standby.endpoint(), 2000));
  EXPECT_THROW(c.append("x-1", ExpectedVersion::any(), {event()}), client::Timeout);

  master->process().signal(SIGKILL);
  master->process().wait(std::chrono::seconds(5));
  ASSERT_TRUE(standby.wait_serving(std::chrono::seconds(20))) << standby.process().log();
  client::Client c2(client_options(standby.endpoint(), 10000));
  EXPECT_EQ(c2.append("x-1", ExpectedVersion::any(), {event()}).first_stream_seq.value(), 1);
}

}  // namespace
}  // namespace even::test
