// A datagram socket standing in for systemd's NOTIFY_SOCKET in tests: a service started with
// env() in its environment sends its READY=1 / STATUS= / WATCHDOG=1 / STOPPING=1 messages here
// (sd_notify), one datagram each.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace even::test {

class NotifySocket {
 public:
  // Binds a fresh path in /tmp. Owns the socket; one thread reads it.
  NotifySocket();
  ~NotifySocket();  // closes it and removes the path
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // The next message within `timeout`, or nullopt. Every message read is also kept in seen().
  std::optional<std::string> next(std::chrono::milliseconds timeout);
  // Reads until a message contains `text`; true when one did within `timeout`.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout);
  // Everything that arrives within `d`.
  std::vector<std::string> collect(std::chrono::milliseconds d);
  // Every message read so far, in order, and all of them as one text (for failure output).
  const std::vector<std::string>& seen() const { return seen_; }
  std::string seen_text() const;

 private:
  int fd_ = -1;
  std::string path_;
  std::vector<std::string> seen_;
};

// How many of `messages` contain `text`.
int count_containing(const std::vector<std::string>& messages, const std::string& text);

}  // namespace even::test
