// ZeroMQ socket conventions shared by every service and the client: bounded queues (HWM),
// timeouts, heartbeats, no linger; plus an eventfd-based wake-up that a socket's owner thread can
// poll beside its sockets, and SIGTERM/SIGINT delivered the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <zmq.hpp>

namespace even::net {

// A CURVE client's keys (Z85, curve.h): the server's public key and this node's key pair. All
// empty: a plain socket.
struct CurveClient {
  std::string server_key, public_key, secret_key;
  bool on() const { return !server_key.empty(); }
};

struct SocketOptions {
  int send_hwm = 1000;            // messages queued per peer before send would block / drop
  int recv_hwm = 1000;
  int linger_ms = 0;              // never hang on close
  // ZMTP heartbeats; 0 = off. Clients' DEALERs use them. Servers' ROUTERs turn them off and use
  // TCP keepalive instead: libzmq 4.3.4 aborts the process (`Assertion failed: !_io_error`,
  // zeromq/libzmq#4364) when a heartbeat timer fires on a connection whose input was stopped by a
  // full receive queue and whose peer has gone, which any client could cause by flooding
  // requests and disconnecting (tests/security).
  int heartbeat_ivl_ms = 1000;
  int heartbeat_timeout_ms = 5000;
  int tcp_keepalive_idle_s = 0;   // > 0: TCP keepalive probes after this idle time (3 probes, 10 s apart)
  std::int64_t max_msg_bytes = 64ll << 20;  // hard cap: libzmq drops a peer that sends more
  bool immediate = false;         // ZMQ_IMMEDIATE: queue only on completed connections
  CurveClient curve;              // set: connect as a CURVE client (server sockets: zap.h)

  // A server's ROUTER (writer, reader): no ZMTP heartbeats, TCP keepalive after 30 s idle
  // (heartbeat_ivl_ms says why).
  static SocketOptions server_router() {
    SocketOptions o;
    o.heartbeat_ivl_ms = 0;
    o.tcp_keepalive_idle_s = 30;
    return o;
  }
};

// Applies `o` to a socket before bind/connect.
void configure(zmq::socket_t& s, const SocketOptions& o);

// Owns an eventfd. Any thread may notify(); the owner thread polls fd() and calls drain().
class Wakeup {
 public:
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  void notify();
  void drain();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Installs SIGTERM/SIGINT handlers (once per process) and returns an fd that becomes readable
// when one arrives. Services poll it beside their sockets and stop cleanly.
int shutdown_fd();
bool shutdown_requested();
// For tests and embedded use: behave as if SIGTERM arrived.
void request_shutdown();

// zmq::poll that treats EINTR (a signal arrived) as "nothing ready" instead of throwing.
// Returns the number of ready items.
int poll(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that was free a moment ago (for tests and benchmarks).
int free_loopback_port();

using Clock = std::chrono::steady_clock;

}  // namespace even::net
