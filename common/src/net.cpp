#include "even/common/net.h"

#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>

namespace even::net {

void configure(zmq::socket_t& s, const SocketOptions& o) {
  s.set(zmq::sockopt::sndhwm, o.send_hwm);
  s.set(zmq::sockopt::rcvhwm, o.recv_hwm);
  s.set(zmq::sockopt::linger, o.linger_ms);
  s.set(zmq::sockopt::maxmsgsize, o.max_msg_bytes);
  auto type = s.get(zmq::sockopt::type);
  bool conn_oriented = type == ZMQ_ROUTER || type == ZMQ_DEALER || type == ZMQ_PUSH || type == ZMQ_PULL ||
                       type == ZMQ_PUB || type == ZMQ_SUB || type == ZMQ_XPUB || type == ZMQ_XSUB;
  if (conn_oriented && o.heartbeat_ivl_ms > 0) {
    s.set(zmq::sockopt::heartbeat_ivl, o.heartbeat_ivl_ms);
    s.set(zmq::sockopt::heartbeat_timeout, o.heartbeat_timeout_ms);
    s.set(zmq::sockopt::heartbeat_ttl, o.heartbeat_timeout_ms);
  }
  if (o.tcp_keepalive_idle_s > 0) {
    s.set(zmq::sockopt::tcp_keepalive, 1);
    s.set(zmq::sockopt::tcp_keepalive_idle, o.tcp_keepalive_idle_s);
    s.set(zmq::sockopt::tcp_keepalive_intvl, 10);
    s.set(zmq::sockopt::tcp_keepalive_cnt, 3);
  }
  if (o.immediate) s.set(zmq::sockopt::immediate, 1);
  if (o.curve.on()) {
    s.set(zmq::sockopt::curve_serverkey, o.curve.server_key);
    s.set(zmq::sockopt::curve_publickey, o.curve.public_key);
    s.set(zmq::sockopt::curve_secretkey, o.curve.secret_key);
  }
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 2000);
}

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}
Wakeup::~Wakeup() { ::close(fd_); }
void Wakeup::notify() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}
void Wakeup::drain() {
  std::uint64_t v;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
}

namespace {
// Process-wide by nature: a signal handler can only reach global state.
std::atomic<int> g_shutdown_fd{-1};
std::atomic<bool> g_shutdown{false};
extern "C" void on_signal(int) {
  g_shutdown.store(true);
  int fd = g_shutdown_fd.load();
  if (fd >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
  }
}
}  // namespace

int shutdown_fd() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_shutdown_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    // SIGHUP rereads the CURVE allowlist (zap.h installs that handler); in a process without one
    // (plain TCP) it must not end the service, as `systemctl reload` would otherwise do.
    struct sigaction hup {};
    if (::sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler == SIG_DFL) ::signal(SIGHUP, SIG_IGN);
  });
  return g_shutdown_fd.load();
}

bool shutdown_requested() { return g_shutdown.load(); }

void request_shutdown() {
  shutdown_fd();
  on_signal(SIGTERM);
}

int poll(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return 0;
    throw;
  }
}

namespace {

// Binds a TCP socket to 127.0.0.1:port (0: the kernel picks) and returns the port it got, or 0
// when the port is taken.
int try_bind_loopback(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(s);
    if (err == EADDRINUSE && port != 0) return 0;
    throw std::system_error(err, std::generic_category(), "bind");
  }
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

}  // namespace

// Picked below Linux's ephemeral range (ip_local_port_range, 32768-60999 by default), where no
// outgoing connection's source port can take it between this call and the caller's bind: ports the
// kernel hands out for bind(0) come from that range and were, with many tests connecting in
// parallel, sometimes taken by then ("Address already in use" in curve_test).
int free_loopback_port() {
  static std::atomic<std::uint64_t> calls{0};
  std::mt19937 rng(static_cast<std::uint32_t>(std::random_device{}() ^ (calls.fetch_add(1) * 2654435761u) ^
                                              static_cast<std::uint32_t>(::getpid())));
  std::uniform_int_distribution<int> below_ephemeral(20000, 32767);
  for (int attempt = 0; attempt < 64; ++attempt)
    if (int port = try_bind_loopback(below_ephemeral(rng)); port != 0) return port;
  return try_bind_loopback(0);
}

}  // namespace even::net
