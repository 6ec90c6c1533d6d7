// even-writer under faults: SIGKILL during a load, store connections killed mid-batch, a
// standby taking over, and the store restarted under a master and a standby on one host. Every
// append that got a success reply must be stored exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "even/common/store/mysql.h"
#include "even/common/store/schema.h"
#include "support/private_mariadb.h"
#include "writer_fixture.h"

namespace even::test {
namespace {

// Clients appending in a loop, each to its own stream, alternating buffered and serial appends,
// retrying the same events (same ids) after a timeout until they get an answer.
class Load {
 public:
  using Clock = std::chrono::steady_clock;
  Load(const std::string& endpoint, int clients) : ack_times_(static_cast<std::size_t>(clients)) {
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
  // The first acknowledgement (of any client) after `t`, if there was one.
  std::optional<Clock::time_point> first_ack_after(Clock::time_point t) const {
    std::lock_guard lock(mu_);
    std::optional<Clock::time_point> first;
    for (const auto& times : ack_times_) {
      auto it = std::upper_bound(times.begin(), times.end(), t);
      if (it != times.end() && (!first || *it < *first)) first = *it;
    }
    return first;
  }
  // When every client had an acknowledgement after `t` (the latest of their first ones), if all had.
  std::optional<Clock::time_point> all_acked_after(Clock::time_point t) const {
    std::lock_guard lock(mu_);
    Clock::time_point last = t;
    for (const auto& times : ack_times_) {
      auto it = std::upper_bound(times.begin(), times.end(), t);
      if (it == times.end()) return std::nullopt;
      last = std::max(last, *it);
    }
    return last;
  }

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
          ack_times_[static_cast<std::size_t>(c)].push_back(Clock::now());
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
  std::vector<std::vector<Clock::time_point>> ack_times_;  // per client, ascending; guarded by mu_
  std::vector<std::thread> threads_;
};

// Every acknowledged event is stored exactly once, at its stream's next position, and streams
// have no holes.
void expect_store_consistent(store::Connection& db, const Load& load) {
  auto* conn = &db;
  for (const auto& [stream, ids] : load.acked()) {
    for (const auto& id : ids) {
      std::string sql = "SELECT COUNT(*) FROM events WHERE event_id = ";
      store::append_hex(sql, id.data(), 16);
      ASSERT_EQ(conn->query_int(sql).value_or(0), 1) << "acknowledged event " << id.to_string() << " of " << stream;
    }
    auto count = conn->query_int("SELECT COUNT(*) FROM events WHERE stream = '" + stream + "'").value_or(0);
    auto max = conn->query_int("SELECT MAX(stream_seq) FROM events WHERE stream = '" + stream + "'").value_or(0);
    auto rows = conn->query_int("SELECT COUNT(*) FROM streams WHERE stream = '" + stream + "'").value_or(0);
    EXPECT_EQ(count, max) << "hole in " << stream;
    EXPECT_EQ(rows, 1) << "the streams row of " << stream;
    EXPECT_GE(count, static_cast<std::int64_t>(ids.size()));
  }
  EXPECT_EQ(conn->query_int("SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM events").value_or(-1), 0);
}

void expect_store_consistent(const TestStore& store, const Load& load) { expect_store_consistent(*store.connect(), load); }

// Whether a writer's log says that it serves now: its last "serving appends" is after its last
// return to standby.
bool serves(const std::string& log) {
  auto serving = log.rfind("serving appends on");
  auto standby = log.rfind("is a standby again");
  return serving != std::string::npos && (standby == std::string::npos || serving > standby);
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

  WriterProcess refused(store, loopback_endpoint(), {"--writer.no-standby"}, "refused");
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

// Stream versions are kept nowhere but in `events`: the standby that takes over after the
// master's SIGKILL starts with an empty cache and must decide expected versions from the events
// alone, and answer a resend of the dead master's last append with its original positions.
TEST(WriterFailover, StandbyWithAnEmptyCacheDecidesExpectedVersionsFromTheEvents) {
  TestStore store;
  const auto endpoint = loopback_endpoint();
  auto master = std::make_unique<WriterProcess>(store, endpoint);
  ASSERT_TRUE(master->wait_serving()) << master->process().log();
  WriterProcess standby(store, endpoint, {}, "standby");
  ASSERT_TRUE(standby.process().wait_for_log("standby", std::chrono::seconds(10))) << standby.process().log();
  const std::vector<client::NewEvent> last = {event(), event()};
  client::AppendResult before;
  {
    client::Client c(client_options(endpoint));
    c.append("acct-1", ExpectedVersion::no_stream(), {event(), event(), event()});
    c.append("acct-2", ExpectedVersion::any(), {event()});
    before = c.append("acct-1", ExpectedVersion::exact(3), last);  // -> 4..5
  }
  master->process().signal(SIGKILL);
  master->process().wait(std::chrono::seconds(5));
  ASSERT_TRUE(standby.wait_serving(std::chrono::seconds(20))) << standby.process().log();

  client::Client c(client_options(endpoint));
  auto conflict_version = [&](const std::string& stream, ExpectedVersion ex) -> std::int64_t {
    try {
      c.append(stream, ex, {event()});
    } catch (const client::WrongExpectedVersion& e) {
      return e.current_version();
    }
    return 0;  // no conflict
  };
  EXPECT_EQ(conflict_version("acct-1", ExpectedVersion::exact(3)), 5);
  EXPECT_EQ(conflict_version("acct-1", ExpectedVersion::no_stream()), 5);
  EXPECT_EQ(conflict_version("acct-3", ExpectedVersion::exists()), -1);
  auto again = c.append("acct-1", ExpectedVersion::exact(3), last);  // the resend of a lost reply
  EXPECT_TRUE(again.idempotent);
  EXPECT_EQ(again.first_global_seq, before.first_global_seq);
  EXPECT_EQ(again.last_stream_seq.value(), 5);
  EXPECT_EQ(c.append("acct-1", ExpectedVersion::exact(5), {event()}).first_stream_seq.value(), 6);
  EXPECT_EQ(c.append("acct-2", ExpectedVersion::exact(1), {event()}).first_stream_seq.value(), 2);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events"), 3 + 1 + 2 + 1 + 1);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM events"), 0);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM streams"), 2);
}

// Issue 12.5, the other way to meet it: the master is frozen (SIGSTOP) while its store connection
// is killed. The standby takes the lock at once but cannot bind the endpoint the frozen master
// holds; it keeps the lock and retries (before the fix it exited 1, "Address already in use" on
// stderr only). Once thawed, the old master finds its lock taken and becomes a standby (it used
// to exit 3), closing the endpoint, and the new master binds it. The old master then really is a
// standby: it takes over when the new one dies.
TEST(WriterFailover, FrozenMasterWhoseConnectionWasKilledBecomesStandby) {
  TestStore store;
  const std::string endpoint = loopback_endpoint();
  WriterProcess a(store, endpoint, {}, "writer-a");
  ASSERT_TRUE(a.wait_serving()) << a.process().log();
  WriterProcess b(store, endpoint, {}, "writer-b");
  ASSERT_TRUE(b.process().wait_for_log("standby", std::chrono::seconds(10))) << b.process().log();
  client::Client c(client_options(endpoint, 15000));
  ASSERT_EQ(c.append("frozen-1", ExpectedVersion::no_stream(), {event()}).first_stream_seq.value(), 1);
  Load load(endpoint, 4);  // appends in flight through both role changes
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  a.process().signal(SIGSTOP);
  auto admin = store.connect();
  const auto holder = admin->query_int("SELECT IS_USED_LOCK('even-writer:" + store.db().name + "')");
  ASSERT_TRUE(holder);
  admin->execute("KILL CONNECTION " + std::to_string(*holder));
  EXPECT_TRUE(b.process().wait_for_log("is in use", std::chrono::seconds(10))) << b.process().log();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(b.process().running()) << b.process().log();
  a.process().signal(SIGCONT);

  ASSERT_TRUE(b.wait_serving(std::chrono::seconds(10))) << b.process().log();
  EXPECT_TRUE(a.process().wait_for_log("is a standby again", std::chrono::seconds(10))) << a.process().log();
  // The cache of the old term is not trusted: the new master appends at the store's version.
  ASSERT_EQ(c.append("frozen-1", ExpectedVersion::exact(1), {event()}).first_stream_seq.value(), 2);
  EXPECT_TRUE(a.process().running()) << a.process().log();
  EXPECT_TRUE(b.process().running()) << b.process().log();

  b.process().signal(SIGKILL);
  b.process().wait(std::chrono::seconds(5));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!serves(a.process().log()) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(serves(a.process().log())) << a.process().log();
  EXPECT_EQ(c.append("frozen-1", ExpectedVersion::exact(2), {event()}).first_stream_seq.value(), 3);
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'frozen-1'"), 3);
  EXPECT_EQ(a.process().log().find("exiting"), std::string::npos) << a.process().log();
  const int before_stop = load.acked_count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  load.stop();
  EXPECT_GT(load.acked_count(), before_stop) << "the load did not resume on the old master";
  expect_store_consistent(store, load);
}

// Issue 12.5: a master and a standby on one host, configured alike (the same endpoint, which only
// the master binds), and the store restarted under load, by SIGTERM and by SIGKILL. Before the
// fix, the standby took the freed lock first, failed to bind the endpoint the master still held
// and exited; appends resumed 4.5-8.2 s after the store was back (the reconnect backoff). Now the
// master reconnects within a quarter second and retakes its lock, while the standby gives it a
// grace period first.
// EVEN_TEST_STORE_RESTARTS raises the number of restarts (default 5, about 30 s).
TEST(WriterFailover, MasterAndStandbyOnOneHostSurviveStoreRestarts) {
  PrivateMariaDb mariadb;
  const auto db = mariadb.options("even");
  store::init_store(db);
  const std::string endpoint = loopback_endpoint();
  WriterProcess a(db, endpoint, {}, "writer-a");
  ASSERT_TRUE(a.wait_serving()) << a.process().log();
  WriterProcess b(db, endpoint, {}, "writer-b");
  ASSERT_TRUE(b.process().wait_for_log("standby", std::chrono::seconds(10))) << b.process().log();

  int restarts = 5;
  if (const char* n = std::getenv("EVEN_TEST_STORE_RESTARTS")) restarts = std::max(1, std::atoi(n));
  Load load(endpoint, 6);
  std::vector<double> first_ms, all_ms;
  for (int i = 0; i < restarts; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    const bool kill = i % 2 == 1;
    const auto down = Load::Clock::now();
    if (kill) {
      mariadb.kill();
    } else {
      mariadb.stop();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    mariadb.start();
    const auto back = Load::Clock::now();
    const auto deadline = back + std::chrono::seconds(20);
    while (!load.all_acked_after(back) && Load::Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto first = load.first_ack_after(back);
    auto all = load.all_acked_after(back);
    ASSERT_TRUE(first && all) << "appends did not resume within 20 s of restart " << i << "\n--- writer a:\n"
                              << a.process().log() << "\n--- writer b:\n" << b.process().log();
    auto ms = [&](Load::Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - back).count(); };
    first_ms.push_back(ms(*first));
    all_ms.push_back(ms(*all));
    std::cout << "restart " << i + 1 << " (" << (kill ? "SIGKILL" : "SIGTERM") << "): store down for "
              << std::chrono::duration<double, std::milli>(back - down).count() << " ms; appends resumed "
              << first_ms.back() << " ms after it was back, on every client after " << all_ms.back() << " ms"
              << std::endl;
    ASSERT_TRUE(a.process().running()) << a.process().log();
    ASSERT_TRUE(b.process().running()) << b.process().log();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  load.stop();

  // Both still run, and exactly one of them is master (the other may need a probe to notice).
  EXPECT_TRUE(a.process().running()) << a.process().log();
  EXPECT_TRUE(b.process().running()) << b.process().log();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (serves(a.process().log()) == serves(b.process().log()) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(serves(a.process().log()), serves(b.process().log()))
      << "--- writer a:\n" << a.process().log() << "\n--- writer b:\n" << b.process().log();
  for (auto* w : {&a, &b}) EXPECT_EQ(w->process().log().find("exiting"), std::string::npos) << w->process().log();
  auto conn = store::Connection::open(db);
  EXPECT_EQ(conn->query_int("SELECT IS_USED_LOCK('even-writer:even') IS NOT NULL").value_or(0), 1);
  client::Client c(client_options(endpoint, 5000));
  EXPECT_GT(c.append("after-1", ExpectedVersion::any(), {event()}).first_global_seq.value(), 0u);
  expect_store_consistent(*conn, load);
  EXPECT_GT(load.acked_count(), 0);

  std::sort(first_ms.begin(), first_ms.end());
  std::sort(all_ms.begin(), all_ms.end());
  std::cout << "resume after the store was back, over " << first_ms.size() << " restarts: first append median "
            << first_ms[first_ms.size() / 2] << " ms, max " << first_ms.back() << " ms; every client median "
            << all_ms[all_ms.size() / 2] << " ms, max " << all_ms.back() << " ms" << std::endl;
  // Target: under 1 s. The bound for any single restart is looser, as the machine is shared.
  EXPECT_LT(first_ms[first_ms.size() / 2], 1000.0);
  EXPECT_LT(first_ms.back(), 2000.0);
}


// Issue 18: a primary with a semi-sync (AFTER_SYNC) replica, a writer configured with both store
// urls, the primary's MariaDB SIGKILLed under load and the replica promoted by `evenctl store
// promote`: the writer finds the writable server, takes the lock there and goes on; every
// acknowledged append is on the promoted replica exactly once, and new ids continue above the
// replicated ones. The replica's SQL thread is stopped for the last half second before the kill:
// what it acknowledged then is in its relay log only, and the promotion must apply it, not drop it.
TEST(WriterFailover, PromotedSemiSyncReplicaHasEveryAcknowledgedAppend) {
  // Once promoted the replica has no replica of its own: a short semi-sync timeout lets its first
  // commit fall back to async soon (the writer logs it).
  ReplicatedStore stores(10000, 300);
  auto& [primary, replica, db] = stores;
  const std::string replica_url = replica.options().url;
  const std::string endpoint = loopback_endpoint();
  WriterProcess writer(db, endpoint, {"--writer.no-standby"});
  ASSERT_TRUE(writer.wait_serving()) << writer.process().log();
  {
    auto p = store::Connection::open(primary.options());
    auto rs = p->query("SHOW STATUS LIKE 'Rpl_semi_sync_master_status'");
    ASSERT_TRUE(rs->next());
    EXPECT_EQ(std::string(rs->getString(2).c_str()), "ON") << "semi-sync is not on at the primary";
  }

  Load load(endpoint, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto rep = store::Connection::open(replica.options());
  rep->execute("STOP SLAVE SQL_THREAD");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int acked_before = load.acked_count();
  ASSERT_GT(acked_before, 0) << writer.process().log();
  const auto killed = Load::Clock::now();
  primary.kill();
  rep->execute("START SLAVE SQL_THREAD");
  std::string out;
  ASSERT_EQ(run_tool({bin("tools/evenctl"), "store", "promote", replica_url, "--db-user", "root"}, &out), 0)
      << out;
  EXPECT_NE(out.find("\"was_replica\":true"), std::string::npos) << out;
  const auto deadline = Load::Clock::now() + std::chrono::seconds(30);
  while (!load.all_acked_after(killed) && Load::Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto resumed = load.first_ack_after(killed);
  ASSERT_TRUE(resumed) << "no append was acknowledged after the promotion\n" << writer.process().log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  load.stop();
  std::cout << "acknowledged " << acked_before << " appends before the kill, " << load.acked_count()
            << " in all; writes unavailable for "
            << std::chrono::duration<double, std::milli>(*resumed - killed).count()
            << " ms (kill, promote, reconnect)" << std::endl;

  EXPECT_TRUE(writer.process().running()) << writer.process().log();
  EXPECT_TRUE(writer.process().wait_for_log("on " + replica_url, std::chrono::seconds(1))) << writer.process().log();
  auto conn = store::Connection::open(db);  // the list finds the promoted replica
  EXPECT_EQ(conn->url(), replica_url);
  expect_store_consistent(*conn, load);
  EXPECT_GT(load.acked_count(), acked_before);
  const auto largest = conn->query_int("SELECT MAX(global_seq) FROM events").value_or(0);
  client::Client c(client_options(endpoint, 5000));
  EXPECT_GT(c.append("after-promotion", ExpectedVersion::any(), {event()}).first_global_seq.value(),
            static_cast<std::uint64_t>(largest));
}

// A primary set read-only (demoted by an operator, a replica promoted) is left by the writer,
// even as root, whom read_only does not stop: the next append lands on the promoted server.
TEST(WriterFailover, WriterLeavesAServerSetReadOnly) {
  ReplicatedStore stores(300, 300);
  auto& [primary, replica, db] = stores;
  const std::string replica_url = replica.options().url;
  const std::string endpoint = loopback_endpoint();
  WriterProcess writer(db, endpoint, {"--writer.no-standby"});
  ASSERT_TRUE(writer.wait_serving()) << writer.process().log();
  client::Client c(client_options(endpoint, 20000));
  c.append("before", ExpectedVersion::any(), {event()});

  std::string out;
  // The primary is alive: promoting beside it is refused, and changes nothing.
  ASSERT_NE(run_tool({bin("tools/evenctl"), "store", "promote", replica_url, "--db-user", "root"}, &out), 0) << out;
  EXPECT_NE(out.find("Slave_IO_Running=Yes"), std::string::npos) << out;
  EXPECT_EQ(store::Connection::open(replica.options())->query_int("SELECT @@read_only").value_or(-1), 1);
  store::Connection::open(primary.options())->execute("SET GLOBAL read_only = 1");  // fenced
  ASSERT_EQ(run_tool({bin("tools/evenctl"), "store", "promote", replica_url, "--db-user", "root", "--force"}, &out), 0)
      << out;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the writer's once-a-second check
  const auto after = c.append("after", ExpectedVersion::any(), {event()}).first_global_seq.value();
  const std::string where = "SELECT COUNT(*) FROM events WHERE global_seq = " + std::to_string(after);
  EXPECT_EQ(store::Connection::open(replica.options("even"))->query_int(where).value_or(-1), 1)
      << writer.process().log();
  EXPECT_EQ(store::Connection::open(primary.options("even"))->query_int(where).value_or(-1), 0)
      << writer.process().log();
  EXPECT_TRUE(writer.process().wait_for_log("is read-only", std::chrono::seconds(1))) << writer.process().log();
}

}  // namespace
}  // namespace even::test
