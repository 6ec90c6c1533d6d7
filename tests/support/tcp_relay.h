// TcpRelay: a TCP relay on 127.0.0.1 for tests that make a server unreachable, and reachable
// again, under a running service (e.g. the service's MariaDB): it listens on one port and copies
// bytes both ways between each accepted connection and a new connection to the target.
// close() stops listening and closes every relayed connection, so the service sees its
// connection lost and new ones refused; open() listens again on the same port.
//
// Owns one thread (a poll loop over every socket) while open. Methods are called by one thread.
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace even::test {

class TcpRelay {
 public:
  // Relays to target_host:target_port (an IPv4 address), listening on a free loopback port; open.
  TcpRelay(std::string target_host, int target_port);
  ~TcpRelay();  // close()
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  // Listens again on port(); no-op when open. Throws std::system_error when the port is taken.
  void open();
  // Closes the listening socket and every relayed connection; no-op when closed.
  void close();

 private:
  void run(int listener, int wakeup);

  const std::string target_host_;
  const int target_port_;
  int port_ = 0;
  int wakeup_ = -1;  // eventfd: wakes run() to stop
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace even::test
