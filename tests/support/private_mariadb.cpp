#include "support/private_mariadb.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "even/common/net.h"
#include "even/common/store/mysql.h"
#include "even/common/store/replication.h"
#include "even/common/store/schema.h"

namespace even::test {

namespace {

// The absolute path of `name` on PATH or in the sbin folders (mariadbd lives in /usr/sbin, which
// is not on every user's PATH); empty when not found.
std::string find_program(const std::string& name) {
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/usr/local/sbin:/sbin:/usr/bin";
  std::stringstream ss(dirs);
  for (std::string dir; std::getline(ss, dir, ':');) {
    if (dir.empty()) continue;
    std::string path = dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string user_name() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "root";
}

}  // namespace

PrivateMariaDb::PrivateMariaDb(ReplicationRole role, int semisync_timeout_ms) {
  static std::atomic<int> counter{0};
  dir_ = ::testing::TempDir() + "even-mariadb-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  port_ = net::free_loopback_port();
  {
    std::ofstream cnf(dir_ + "/my.cnf");
    cnf << "[mysqld]\n"
        << "datadir=" << dir_ << "/data\n"
        << "socket=" << dir_ << "/mysqld.sock\n"
        << "pid-file=" << dir_ << "/mysqld.pid\n"
        << "port=" << port_ << "\n"
        << "bind-address=127.0.0.1\n"
        << "user=" << user_name() << "\n"
        << "log-error=" << dir_ << "/error.log\n"
        << "skip-name-resolve\n"
        << "innodb_buffer_pool_size=64M\n"
        << "innodb_log_file_size=48M\n"
        << "innodb_flush_log_at_trx_commit=1\n"
        << "innodb_autoinc_lock_mode=1\n"
        << "max_connections=200\n"
        << "max_allowed_packet=64M\n"
        << "character-set-server=utf8mb4\n";
    if (role != ReplicationRole::none) {
      cnf << "server_id=" << port_ << "\n"
          << "log_bin=" << dir_ << "/data/binlog\n"
          << "relay_log=" << dir_ << "/data/relay\n"
          << "binlog_format=ROW\n"
          << "sync_binlog=1\n"
          << "log_slave_updates=ON\n"
          << "gtid_strict_mode=ON\n"
          << "rpl_semi_sync_master_wait_point=AFTER_SYNC\n"
          << "rpl_semi_sync_master_timeout=" << semisync_timeout_ms << "\n"
          << "rpl_semi_sync_slave_enabled=ON\n"
          << "rpl_semi_sync_master_enabled=" << (role == ReplicationRole::primary ? "ON" : "OFF") << "\n"
          << "read_only=" << (role == ReplicationRole::replica ? "ON" : "OFF") << "\n";
    }
  }
  const std::string install = find_program("mariadb-install-db");
  if (install.empty() || find_program("mariadbd").empty())
    throw std::runtime_error("mariadb-install-db / mariadbd not found (install mariadb-server)");
  try {
    std::string out;
    const int rc = run_tool({install, "--defaults-file=" + dir_ + "/my.cnf",
                             "--auth-root-authentication-method=normal", "--skip-test-db"},
                            &out);
    if (rc != 0) throw std::runtime_error("mariadb-install-db failed (" + std::to_string(rc) + "): " + out);
    start();
    // Like ops/even: root over loopback TCP without a password (a private server only). The
    // install made root@localhost, which the socket reaches.
    config::DbOptions local = options();
    local.url = "unix://" + dir_ + "/mysqld.sock";
    auto c = store::Connection::open(local, false);
    c->execute("SET SESSION sql_log_bin = 0");  // each server makes its own (a replica too)
    c->execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''");
    c->execute("GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  } catch (...) {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

PrivateMariaDb::~PrivateMariaDb() {
  server_.reset();  // SIGKILL and reap, by PID
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

config::DbOptions PrivateMariaDb::options(const std::string& name) const {
  config::DbOptions db;
  db.url = "tcp://127.0.0.1:" + std::to_string(port_);
  db.user = "root";
  db.name = name;
  db.connect_timeout_s = 2;
  return db;
}

void PrivateMariaDb::start(std::chrono::milliseconds timeout) {
  if (running()) return;
  server_ = std::make_unique<Process>(
      std::vector<std::string>{find_program("mariadbd"), "--defaults-file=" + dir_ + "/my.cnf"},
      dir_ + "/mariadbd.out");
  // Before the grants exist, root reaches the server over its socket only.
  config::DbOptions probe = options();
  probe.url = "unix://" + dir_ + "/mysqld.sock";
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (!server_->running()) break;
    try {
      store::Connection::open(probe, false);
      try {
        store::Connection::open(options(), false);  // TCP too, once the grants exist
        return;
      } catch (const sql::SQLException& e) {
        if (e.getErrorCode() == 1045 || e.getErrorCode() == 1130) return;  // up; no TCP grant yet
      }
    } catch (const sql::SQLException&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("private mariadbd did not come up on port " + std::to_string(port_) + ":\n" +
                           error_log());
}

void PrivateMariaDb::stop(std::chrono::milliseconds timeout) {
  if (!server_) return;
  server_->signal(SIGTERM);
  if (server_->wait(timeout) < 0) throw std::runtime_error("private mariadbd did not stop on SIGTERM");
  server_.reset();
}

void PrivateMariaDb::kill() {
  if (!server_) return;
  server_->signal(SIGKILL);
  server_->wait(std::chrono::seconds(30));
  server_.reset();
}

bool PrivateMariaDb::running() const { return server_ && server_->running(); }

void PrivateMariaDb::follow(const PrivateMariaDb& primary) {
  auto c = store::Connection::open(options(), false);
  store::follow_primary(*c, "127.0.0.1", primary.port(), "root", "");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto rs = c->query("SHOW SLAVE STATUS");
    if (rs->next() && std::string(rs->getString("Slave_IO_Running").c_str()) == "Yes" &&
        std::string(rs->getString("Slave_SQL_Running").c_str()) == "Yes")
      return;
    if (std::chrono::steady_clock::now() > end)
      throw std::runtime_error("the replica on port " + std::to_string(port_) + " does not replicate from port " +
                               std::to_string(primary.port()) + ":\n" + error_log());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string PrivateMariaDb::error_log() const { return read_file(dir_ + "/error.log"); }

ReplicatedStore::ReplicatedStore(int primary_semisync_timeout_ms, int replica_semisync_timeout_ms)
    : primary(ReplicationRole::primary, primary_semisync_timeout_ms),
      replica(ReplicationRole::replica, replica_semisync_timeout_ms) {
  replica.follow(primary);
  db = primary.options("even");
  store::init_store(db);
  db.url = primary.options().url + "," + replica.options().url;
}

}  // namespace even::test
