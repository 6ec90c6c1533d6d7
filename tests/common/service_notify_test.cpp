// ServiceNotifier / ServiceNotify against a datagram socket standing in for systemd: what each
// call sends, how several services of one process are joined, that a stuck loop stops the
// watchdog pings, and that nothing happens without NOTIFY_SOCKET.
#include "even/common/service_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "support/notify_socket.h"

namespace even::notify {
namespace {

using namespace std::chrono_literals;
using test::count_containing;

// Sets NOTIFY_SOCKET (and WATCHDOG_USEC) for the notifiers made in one test; unsets them after.
class Environment {
 public:
  Environment(const test::NotifySocket* socket, std::chrono::microseconds watchdog = {}) {
    if (socket) ::setenv("NOTIFY_SOCKET", socket->path().c_str(), 1);
    else ::unsetenv("NOTIFY_SOCKET");
    if (watchdog.count() > 0) ::setenv("WATCHDOG_USEC", std::to_string(watchdog.count()).c_str(), 1);
    else ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  ~Environment() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

TEST(ServiceNotify, WithoutNotifySocketNothingIsSentAndNoWatchdog) {
  test::NotifySocket socket;  // nobody is told about it
  Environment env(nullptr, 200ms);
  auto notifier = std::make_shared<ServiceNotifier>();
  EXPECT_FALSE(notifier->enabled());
  EXPECT_EQ(notifier->watchdog_timeout().count(), 0);
  ServiceNotify n(nullptr, "writer");
  n.status("connecting");
  n.ready("master");
  EXPECT_FALSE(n.watchdog_due());
  EXPECT_EQ(n.max_wait(), std::chrono::milliseconds::max());
  n.ping();
  n.alive();
  n.stopping();
  EXPECT_TRUE(socket.collect(200ms).empty());
}

TEST(ServiceNotify, OneServiceSpeaksForTheProcess) {
  test::NotifySocket socket;
  Environment env(&socket);
  {
    ServiceNotify n(nullptr, "writer");
    n.status("connecting to the store");
    n.status("connecting to the store");  // unchanged: not sent again
    n.ready("standby, waiting for the master lock");
    n.ready("master; serving appends");  // READY=1 is sent once
    n.status("master; 12 appends/s");
    EXPECT_FALSE(n.watchdog_due()) << "no WATCHDOG_USEC: no watchdog";
    n.stopping();
    n.stopping();
  }
  auto got = socket.collect(300ms);
  ASSERT_EQ(got.size(), 5u) << socket.seen_text();
  EXPECT_EQ(got[0], "STATUS=connecting to the store");
  EXPECT_EQ(got[1], "READY=1\nSTATUS=standby, waiting for the master lock");
  EXPECT_EQ(got[2], "STATUS=master; serving appends");
  EXPECT_EQ(got[3], "STATUS=master; 12 appends/s");
  EXPECT_EQ(got[4], "STOPPING=1\nSTATUS=stopping");
}

TEST(ServiceNotify, ServicesOfOneProcessAreReadyTogether) {
  test::NotifySocket socket;
  Environment env(&socket);
  auto notifier = std::make_shared<ServiceNotifier>();
  auto writer = std::make_unique<ServiceNotify>(notifier, "writer");
  auto reader = std::make_unique<ServiceNotify>(notifier, "reader");
  auto projector = std::make_unique<ServiceNotify>(notifier, "projector");
  writer->ready("master");
  reader->ready("serving");
  auto got = socket.collect(200ms);
  EXPECT_EQ(count_containing(got, "READY=1"), 0) << "the projector is not ready yet\n" << socket.seen_text();
  EXPECT_EQ(got.back(), "STATUS=writer: master | reader: serving | projector: starting");
  // A service that ends before it was ready (e.g. every projection failed) no longer holds it back.
  projector->stopping();
  got = socket.collect(200ms);
  ASSERT_EQ(got.size(), 1u) << socket.seen_text();
  EXPECT_EQ(got[0], "READY=1\nSTATUS=writer: master | reader: serving");
  EXPECT_EQ(count_containing(got, "STOPPING=1"), 0) << "only the process's owner says STOPPING=1";
  notifier->stopping();
  got = socket.collect(200ms);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "STOPPING=1\nSTATUS=stopping");
  writer.reset();
  reader.reset();
  EXPECT_TRUE(socket.collect(100ms).empty()) << socket.seen_text();
}

TEST(ServiceNotify, WatchdogPingsStopWhileOneLoopIsStuck) {
  test::NotifySocket socket;
  Environment env(&socket, 400ms);  // a ping due every 100 ms
  auto notifier = std::make_shared<ServiceNotifier>();
  EXPECT_EQ(notifier->watchdog_timeout(), 400ms);
  std::atomic<bool> stop{false}, stuck{false};
  // Two services' main loops on their own threads, each calling alive() every 10 ms, unless stuck.
  auto loop = [&](const char* name, bool may_stick) {
    ServiceNotify n(notifier, name);
    EXPECT_EQ(n.max_wait(), 100ms);
    n.ready("running");
    while (!stop) {
      while (may_stick && stuck && !stop) std::this_thread::sleep_for(5ms);
      n.alive();
      std::this_thread::sleep_for(10ms);
    }
  };
  std::thread a(loop, "a", false), b(loop, "b", true);
  auto before = socket.collect(1000ms);
  stuck = true;
  // The stuck loop may have gone round just before it stuck, and the other one pings up to a period
  // (100 ms) later: that last ping is read and dropped here, not left queued for `during`.
  socket.collect(300ms);
  auto during = socket.collect(1000ms);
  stuck = false;
  auto after = socket.collect(1000ms);
  stop = true;
  a.join();
  b.join();
  EXPECT_GE(count_containing(before, "WATCHDOG=1"), 6) << socket.seen_text();
  EXPECT_EQ(count_containing(during, "WATCHDOG=1"), 0) << "one stuck loop holds back the process's pings\n"
                                                      << socket.seen_text();
  EXPECT_GE(count_containing(after, "WATCHDOG=1"), 6) << socket.seen_text();
}

TEST(ServiceNotify, WatchdogMeantForAnotherProcessIsOff) {
  test::NotifySocket socket;
  Environment env(&socket, 400ms);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  ServiceNotify n(nullptr, "x");
  EXPECT_FALSE(n.watchdog_due());
  n.alive();
  EXPECT_TRUE(socket.collect(150ms).empty()) << socket.seen_text();
}

}  // namespace
}  // namespace even::notify
