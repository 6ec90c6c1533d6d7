#include "support/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace even::test {

namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

sockaddr_in address(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw std::invalid_argument("not an IPv4 address: " + host);
  return a;
}

// Writes all of `data` (blocking; loopback peers read promptly). False when the peer is gone.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

TcpRelay::TcpRelay(std::string target_host, int target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  open();
}

TcpRelay::~TcpRelay() { close(); }

void TcpRelay::open() {
  if (thread_.joinable()) return;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) fail("socket");
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = address("127.0.0.1", port_);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener, 64) != 0) {
    const int err = errno;
    ::close(listener);
    throw std::system_error(err, std::generic_category(), "relay bind/listen on port " + std::to_string(port_));
  }
  socklen_t len = sizeof a;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  wakeup_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeup_ < 0) {
    ::close(listener);
    fail("eventfd");
  }
  stop_ = false;
  thread_ = std::thread([this, listener] { run(listener, wakeup_); });
}

void TcpRelay::close() {
  if (!thread_.joinable()) return;
  stop_ = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wakeup_, &one, sizeof one);
  thread_.join();
  ::close(wakeup_);
  wakeup_ = -1;
}

void TcpRelay::run(int listener, int wakeup) {
  std::map<int, int> peer;  // each relayed socket -> the other end
  auto drop = [&](int fd) {
    auto it = peer.find(fd);
    if (it == peer.end()) return;
    const int other = it->second;
    peer.erase(it);
    peer.erase(other);
    ::close(fd);
    ::close(other);
  };
  std::vector<pollfd> fds;
  char buf[64 * 1024];
  while (!stop_) {
    fds.assign({{listener, POLLIN, 0}, {wakeup, POLLIN, 0}});
    for (const auto& [fd, other] : peer) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (stop_) break;
    if (fds[0].revents & POLLIN) {
      const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in t = address(target_host_, target_port_);
        if (server >= 0 && ::connect(server, reinterpret_cast<sockaddr*>(&t), sizeof t) == 0) {
          peer[client] = server;
          peer[server] = client;
        } else {
          if (server >= 0) ::close(server);
          ::close(client);
        }
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      const int fd = fds[i].fd;
      auto it = peer.find(fd);
      if (it == peer.end()) continue;  // dropped with its other end in this round
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !write_all(it->second, buf, static_cast<std::size_t>(n))) drop(fd);
    }
  }
  while (!peer.empty()) drop(peer.begin()->first);
  ::close(listener);
}

}  // namespace even::test
