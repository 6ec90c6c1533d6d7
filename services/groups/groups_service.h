// GroupsService: the even-groups process — persistent subscription groups (competing consumers,
// services/groups/README.md). Clients and consumers talk to one ROUTER (schemas/groups.capnp);
// the groups' events come from the store, read by global position ranges up to a settled head
// (the dispatcher's hole rule: no id below it can still commit), and their checkpoints go back to
// the store. Parked events are appended to "parked-<group>" through even-writer.
//
// Owns the ROUTER socket, its store connections and the writer client; everything runs on the
// thread that calls run() (the writer client has its own I/O thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "even/common/config.h"
#include "even/common/metrics.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"
#include "even/common/zap.h"

namespace even::groups {

struct GroupsOptions {
  std::string endpoint = "tcp://127.0.0.1:5554";         // ROUTER bind address (groups-endpoint)
  std::string writer_endpoint = "tcp://127.0.0.1:5550";  // where parked events are appended
  curve::Options security;                               // for the connection to the writer
  std::chrono::milliseconds poll{50};                    // the store head is read this often
  // A head read from the store is trusted once this old and no uncommitted row below it is held
  // by an open transaction (--dispatcher.hole-settle-ms, services/dispatcher/README.md).
  std::chrono::milliseconds hole_settle{100};
  // Where the server cannot run the locking check: a head is trusted once this old.
  std::chrono::milliseconds hole_safety{10000};
  // A consumer that sent nothing (heartbeat, ack) for this long is dropped; what it held goes
  // to the others.
  std::chrono::milliseconds consumer_timeout{10000};
  std::chrono::milliseconds save_interval{200};  // checkpoints are written at most this often
  std::size_t max_buffered = 10000;               // unsettled events held per group
  std::size_t max_consumers = 10000;              // consumers of all groups; more get `unavailable`
  std::size_t max_request_bytes = 1u << 20;
  int recv_hwm = 1000;
  int send_hwm = 1000;
  std::shared_ptr<notify::ServiceNotifier> notifier;
  std::shared_ptr<metrics::Registry> metrics;
  // CURVE: makes the ROUTER a CURVE server checked under the role subscribe; null: plain.
  std::shared_ptr<zap::Authenticator> auth;
};

class GroupsService {
 public:
  GroupsService(zmq::context_t& ctx, config::DbOptions db, GroupsOptions options, std::shared_ptr<spdlog::logger> log);
  ~GroupsService();

  // Binds, loads the groups, serves until stopped (SIGTERM or request_stop()). Returns 0.
  int run();
  // Thread-safe; run() returns soon after.
  void request_stop();

  struct Impl;

 private:
  zmq::context_t& ctx_;
  config::DbOptions db_;
  GroupsOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  net::Wakeup stop_wakeup_;
  std::atomic<bool> stop_{false};
};

}  // namespace even::groups
