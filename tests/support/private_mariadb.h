// A MariaDB server of the test's own, for tests that stop, kill and restart the store: a data
// folder under the test's temp dir and mariadbd on a free loopback port, started like
// `ops/even db start` does it (mariadb-install-db, then mariadbd --defaults-file). The shared
// server of `ops/even test` must never be restarted: other suites use it at the same time.
//
// Owns the mariadbd child process (ended by its PID only) and the data folder: the destructor
// kills the server and removes the folder, also when the test failed. Not thread-safe: the test's
// main thread drives it, while any thread may connect to it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "even/common/config.h"
#include "support/process.h"

namespace even::test {

// How a PrivateMariaDb takes part in replication (like `ops/even db start --replicas N`): none,
// or a GTID binlog and semi-sync (AFTER_SYNC) on, as the writable primary or a read-only replica
// (which follow() attaches to a primary).
enum class ReplicationRole { none, primary, replica };

class PrivateMariaDb {
 public:
  // Initialises the data folder and starts the server. Throws std::runtime_error when
  // mariadb-install-db or mariadbd are missing (Debian package mariadb-server) or when the server
  // does not come up. `semisync_timeout_ms`: rpl_semi_sync_master_timeout (replication only).
  explicit PrivateMariaDb(ReplicationRole role = ReplicationRole::none, int semisync_timeout_ms = 10000);
  ~PrivateMariaDb();
  PrivateMariaDb(const PrivateMariaDb&) = delete;
  PrivateMariaDb& operator=(const PrivateMariaDb&) = delete;

  // root over TCP on 127.0.0.1:port(), no password; `name` is the database (empty: none chosen).
  config::DbOptions options(const std::string& name = "") const;
  int port() const { return port_; }

  // Starts mariadbd on the same data folder and port; returns once it accepts connections
  // (throws when it does not within `timeout`).
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // SIGTERM (a clean shutdown, connections are closed by the server) and waits for the exit.
  void stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // SIGKILL (a crash: InnoDB recovers at the next start) and waits for the exit.
  void kill();
  bool running() const;
  // The server's error log, for failure messages.
  std::string error_log() const;
  // Replication: this server replicates from `primary` (GTID, semi-sync, read_only) and waits
  // until its replica threads run.
  void follow(const PrivateMariaDb& primary);

 private:
  std::string dir_;  // data folder, config, socket, logs
  int port_ = 0;
  std::unique_ptr<Process> server_;
};

// A primary and one semi-sync replica that follows it, with the store "even" initialised on the
// primary; `db` names both servers (url "primary,replica"), as the services take them.
struct ReplicatedStore {
  explicit ReplicatedStore(int primary_semisync_timeout_ms = 10000, int replica_semisync_timeout_ms = 10000);
  PrivateMariaDb primary;
  PrivateMariaDb replica;
  config::DbOptions db;
};

}  // namespace even::test
