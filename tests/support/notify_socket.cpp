#include "support/notify_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace even::test {

NotifySocket::NotifySocket() {
  static std::atomic<int> counter{0};
  path_ = "/tmp/even-notify-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
  ::unlink(path_.c_str());
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX, SOCK_DGRAM) failed");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot bind " + path_ + ": " + std::strerror(errno));
  }
}

NotifySocket::~NotifySocket() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

std::optional<std::string> NotifySocket::next(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char buf[4096];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  seen_.emplace_back(buf, static_cast<std::size_t>(n));
  return seen_.back();
}

bool NotifySocket::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto m = next(left);
    if (m && m->find(text) != std::string::npos) return true;
  }
}

std::vector<std::string> NotifySocket::collect(std::chrono::milliseconds d) {
  std::vector<std::string> out;
  const auto end = std::chrono::steady_clock::now() + d;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    if (auto m = next(left)) out.push_back(*m);
  }
}

std::string NotifySocket::seen_text() const {
  std::string out;
  for (const auto& m : seen_) {
    std::string line = m;
    for (char& c : line)
      if (c == '\n') c = ' ';
    out += "  " + line + "\n";
  }
  return out;
}

int count_containing(const std::vector<std::string>& messages, const std::string& text) {
  int n = 0;
  for (const auto& m : messages) n += m.find(text) != std::string::npos ? 1 : 0;
  return n;
}

}  // namespace even::test
