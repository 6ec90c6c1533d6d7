// A real supervisord runs the cluster from ops/supervisor/even.conf (programs pointed at this
// build, the test's store and free ports): appends go through the writer while the test SIGKILLs
// it; supervisord restarts it, appends resume, and every acknowledged event is in the store
// exactly once. The bank read model of the supervised projector catches up with every deposit.
// supervisord and whatever it started are stopped at the end, also when the test fails.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "even/client/client.h"
#include "support/process.h"
#include "support/test_env.h"
#include "support/test_client.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// PIDs of the processes whose command line contains `text` (the test's own config path: every
// program supervisord starts for this test has it in its arguments).
std::vector<pid_t> processes_with(const std::string& text) {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (auto* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(text) != std::string::npos) out.push_back(pid);
  }
  ::closedir(proc);
  return out;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/even-supervisor-test-" + std::to_string(::getpid());
    run_tool({"rm", "-rf", dir_});
    run_tool({"mkdir", "-p", dir_});
    ASSERT_EQ(run_tool({"sh", "-c", "command -v supervisord && command -v supervisorctl"}, &tools_), 0)
        << "supervisord/supervisorctl not found: install the Debian package 'supervisor' (ops/even deps does)";
    std::istringstream lines(tools_);
    std::getline(lines, supervisord_);
    std::getline(lines, supervisorctl_);
  }

  void TearDown() override {
    // supervisord stops its programs on SIGTERM (TERM each, SIGKILL after stopwaitsecs).
    if (supervisord_process_) {
      supervisord_process_->signal(SIGTERM);
      if (supervisord_process_->wait(60s) == -1) supervisord_process_.reset();  // SIGKILLs it
    }
    // Whatever is left of this test (a program supervisord did not stop): by PID.
    for (pid_t pid : processes_with(conf_path())) {
      ADD_FAILURE() << "process " << pid << " of the test was still running after supervisord stopped";
      ::kill(pid, SIGKILL);
    }
    if (!HasFailure()) run_tool({"rm", "-rf", dir_});  // kept for a look when the test failed
  }

  std::string conf_path() const { return dir_ + "/even.conf"; }
  std::string supervisor_conf() const { return dir_ + "/supervisord.conf"; }

  // /etc/even/even.conf of this test: the store, the query database and free ports.
  void write_even_conf() {
    const auto& db = store_.db();
    std::ofstream f(conf_path());
    f << "db-url = " << db.url << "\ndb-user = " << db.user << "\ndb-name = " << db.name << "\n";
    if (!db.password.empty()) f << "db-password = " << db.password << "\n";
    f << "query-db-name = " << query_.db().name << "\n";
    f << "writer-endpoint = " << writer_ << "\ndispatcher-pull-endpoint = " << loopback_endpoint()
      << "\ndispatcher-pub-endpoint = " << feed_ << "\nreader-endpoint = " << reader_ << "\n";
    f << "insecure = true\n";  // plain TCP: this test is about supervision (tests/security: CURVE)
    f << "[admin]\nhttp-endpoint = " << loopback_endpoint().substr(6) << "\n";  // even-admin's UI on a free port
  }

  // ops/supervisor/even.conf with the paths of this build and this test, plus the [supervisord]
  // sections a conf.d file gets from /etc/supervisor/supervisord.conf. `user=even` is dropped: the
  // user exists where the package is installed, and only a root supervisord can switch to it.
  void write_supervisor_conf() {
    std::ifstream in(std::string(EVEN_SOURCE_DIR) + "/ops/supervisor/even.conf");
    ASSERT_TRUE(in) << "ops/supervisor/even.conf";
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (const char* s : {"writer", "reader", "dispatcher", "projector", "admin"})
      text = replace_all(text, std::string("/usr/bin/even-") + s, bin(std::string("services/") + s + "/even-" + s));
    text = replace_all(text, "/etc/even/projector/bank.json", std::string(EVEN_SOURCE_DIR) + "/examples/bank/projections.json");
    text = replace_all(text, "/etc/even/even.conf", conf_path());
    text = replace_all(text, "/var/log/supervisor/", dir_ + "/");
    ASSERT_NE(text.find("\nuser=even\n"), std::string::npos);
    text = replace_all(text, "\nuser=even\n", "\n");
    text += "\n[supervisord]\nlogfile=" + dir_ + "/supervisord.log\npidfile=" + dir_ + "/supervisord.pid\nchildlogdir=" +
            dir_ + "\nnodaemon=true\n\n[unix_http_server]\nfile=" + dir_ + "/supervisor.sock\n\n" +
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n" +
            "[supervisorctl]\nserverurl=unix://" + dir_ + "/supervisor.sock\n";
    std::ofstream(supervisor_conf()) << text;
  }

  std::string ctl(const std::vector<std::string>& args, int* rc = nullptr) {
    std::vector<std::string> argv = {supervisorctl_, "-c", supervisor_conf()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    int r = run_tool(argv, &out);
    if (rc) *rc = r;
    return out;
  }
  pid_t program_pid(const std::string& program) { return std::atoi(trim(ctl({"pid", "even:" + program})).c_str()); }
  // Waits until every program of the group is RUNNING.
  ::testing::AssertionResult all_running(std::chrono::seconds timeout) {
    std::string out;
    for (auto end = Clock::now() + timeout; Clock::now() < end; std::this_thread::sleep_for(200ms)) {
      out = ctl({"status", "even:*"});
      int running = 0;
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);) running += line.find(" RUNNING ") != std::string::npos;
      if (running == 5) return ::testing::AssertionSuccess();  // the group of ops/supervisor/even.conf
    }
    return ::testing::AssertionFailure() << "not every program is RUNNING:\n" << out;
  }

  TestStore store_;
  TestStore query_{false};
  std::string writer_ = loopback_endpoint(), reader_ = loopback_endpoint(), feed_ = loopback_endpoint();
  std::string dir_, tools_, supervisord_, supervisorctl_;
  std::unique_ptr<Process> supervisord_process_;
};

TEST_F(SupervisorTest, RestartsAKilledWriterAndLosesNoAcknowledgedEvent) {
  write_even_conf();
  write_supervisor_conf();
  supervisord_process_ = std::make_unique<Process>(
      std::vector<std::string>{supervisord_, "-n", "-c", supervisor_conf()}, dir_ + "/supervisord.out");
  ASSERT_TRUE(all_running(60s)) << supervisord_process_->log();
  const pid_t first_writer = program_pid("even-writer");
  ASSERT_GT(first_writer, 0) << ctl({"status"});

  // Appenders: deposits to account-<t>, each acknowledged event id kept with the time of its ack.
  auto options = test::client_options(writer_, reader_, feed_, 60s);
  options.resend_after = 500ms;
  client::Client client(options);
  std::mutex mu;
  std::vector<std::pair<EventId, Clock::time_point>> acked;  // guarded by mu
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> appenders;
  for (int t = 0; t < 4; ++t)
    appenders.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        client::NewEvent e;
        e.type = "Deposited";
        e.payload = "{\"amount\":1}";
        try {
          client.append("account-" + std::to_string(t), ExpectedVersion::any(), {e});
          std::lock_guard lock(mu);
          acked.emplace_back(e.id, Clock::now());
        } catch (const std::exception& ex) {
          ++failures;
          ADD_FAILURE() << "append failed: " << ex.what();
        }
      }
    });
  auto acked_count = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  for (int i = 0; i < 200 && acked_count() < 200; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_GE(acked_count(), 200u);

  ASSERT_EQ(::kill(first_writer, SIGKILL), 0);
  const auto killed = Clock::now();
  const std::size_t acked_before_kill = acked_count();
  // supervisord starts a new writer; appends resume through it.
  pid_t second_writer = 0;
  std::optional<Clock::time_point> new_process, first_ack_after;
  for (auto end = killed + 60s; Clock::now() < end && (!new_process || !first_ack_after);
       std::this_thread::sleep_for(20ms)) {
    if (!new_process) {
      second_writer = program_pid("even-writer");
      if (second_writer > 0 && second_writer != first_writer) new_process = Clock::now();
    }
    if (!first_ack_after) {
      std::lock_guard lock(mu);
      for (auto it = acked.rbegin(); it != acked.rend() && it->second > killed; ++it) first_ack_after = it->second;
    }
  }
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& a : appenders) a.join();
  ASSERT_TRUE(new_process) << "supervisord did not start a new writer:\n" << ctl({"status"});
  ASSERT_TRUE(first_ack_after) << "no append was acknowledged after the kill";
  auto ms = [&](Clock::time_point t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t - killed).count(); };
  std::cout << "[supervisor] writer SIGKILLed after " << acked_before_kill << " acknowledged appends; new writer pid "
            << second_writer << " seen after " << ms(*new_process) << " ms; first append acknowledged by it after "
            << ms(*first_ack_after) << " ms; " << acked.size() << " appends acknowledged in all\n";
  RecordProperty("restart_to_first_ack_ms", std::to_string(ms(*first_ack_after)));
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(acked.size(), acked_before_kill);

  // Every acknowledged event is stored exactly once.
  std::map<std::string, int> stored;
  {
    auto conn = store_.connect();
    auto rs = conn->query("SELECT LOWER(HEX(event_id)) FROM events");
    while (rs->next()) ++stored[rs->getString(1)];
  }
  std::size_t missing = 0, twice = 0;
  for (const auto& [id, _] : acked) {
    auto it = stored.find(replace_all(id.to_string(), "-", ""));
    if (it == stored.end()) ++missing;
    else if (it->second != 1) ++twice;
  }
  EXPECT_EQ(missing, 0u) << "acknowledged events missing from the store";
  EXPECT_EQ(twice, 0u) << "acknowledged events stored more than once";
  EXPECT_EQ(store_.scalar("SELECT COUNT(*) FROM events"), static_cast<std::int64_t>(acked.size()))
      << "every append was acknowledged, so the store holds exactly those";
  for (int t = 0; t < 4; ++t) {
    const std::string s = "'account-" + std::to_string(t) + "'";
    EXPECT_EQ(store_.scalar("SELECT MAX(stream_seq) - COUNT(*) FROM events WHERE stream = " + s), 0) << s;
  }

  // The supervised projector (the bank read model) has every deposit, once.
  std::int64_t deposits = 0;
  for (auto end = Clock::now() + 60s; Clock::now() < end; std::this_thread::sleep_for(200ms)) {
    try {
      deposits = query_.scalar("SELECT COALESCE(SUM(deposits), 0) FROM account_activity");
    } catch (const std::exception&) {
    }
    if (deposits >= static_cast<std::int64_t>(acked.size())) break;
  }
  EXPECT_EQ(deposits, static_cast<std::int64_t>(acked.size()));
  EXPECT_TRUE(all_running(10s));
}

}  // namespace
}  // namespace even::test
