// The ZAP handler (ZeroMQ RFC 27) of a server process: decides which CURVE clients its server
// sockets let in. A client is accepted when its public key is in the allowlist folder (public
// certs `*.key`, their metadata `role = "append read ..."` saying what the key may do) with the
// role of the socket it connects to (its ZAP domain: writer ROUTER = append, reader ROUTER =
// read, dispatcher PUB = subscribe, dispatcher PULL = feed), and, when an IP allowlist is set,
// its address is in one of the CIDRs. The server's own key is let in everywhere (even-server's
// projector connects to its own reader and feed with it).
//
// libzmq 4.3 fails open: a CURVE server with no handler bound to inproc://zeromq.zap.01 lets in
// every client that knows the server's key. So the only way to make a server socket CURVE is
// Authenticator::secure(), which exists only once the handler is bound; and when the handler's
// thread dies the process exits (code 70) rather than serve unauthenticated.
//
// Owns a thread and its REP socket on the process's context; reloads the folder on SIGHUP and
// when a file in it changes (checked every second). Refusals are logged once per key with the
// peer's address, at most one line per 200 ms (a line says how many it stands for), and counted
// in even_zap_refused_total{role}.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "even/common/curve.h"
#include "even/common/metrics.h"
#include "even/common/net.h"

namespace even::zap {

// An IP allowlist: CIDRs (v4 or v6) or plain addresses, comma-separated. Empty: any address.
class IpAllowlist {
 public:
  // Throws std::invalid_argument naming the entry that is not an address or CIDR.
  explicit IpAllowlist(const std::string& cidrs = "");
  bool empty() const { return nets_.empty(); }
  // `address` as ZAP gives it ("127.0.0.1", "::1"); false when it cannot be parsed.
  bool allows(const std::string& address) const;

 private:
  struct Net {
    int family;
    unsigned char bytes[16];
    int prefix;
  };
  std::vector<Net> nets_;
};

// The allowlist folder read into memory: public key (Z85) -> the key's name (file stem) and roles.
struct AllowedKey {
  std::string name;
  std::set<curve::Role> roles;
};
// Reads every `*.key` of `dir`; a file that cannot be read is skipped with a line in `problems`.
// Throws std::runtime_error when the folder cannot be read.
std::map<std::string, AllowedKey> load_allowlist(const std::string& dir, std::vector<std::string>* problems);

class Authenticator {
 public:
  // Binds the handler on `ctx` (throws when another handler is bound there), reads the folder
  // (throws when it cannot) and starts the thread. `own` is the server's secret cert. `registry`
  // may be null. Must be destroyed before `ctx`, and outlive every socket secure() configured.
  Authenticator(zmq::context_t& ctx, curve::Cert own, std::string allow_keys_dir, const std::string& allow_ips,
                std::shared_ptr<spdlog::logger> log, std::shared_ptr<metrics::Registry> registry = nullptr);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Makes `socket` (before bind) a CURVE server checked under `role`, when `endpoint` needs keys
  // (curve::needs_keys); inproc:// and ipc:// stay plain.
  void secure(zmq::socket_t& socket, const std::string& endpoint, curve::Role role) const;
  const curve::Cert& cert() const { return own_; }
  // Thread-safe: reread the folder soon (as SIGHUP does).
  void reload();
  // Thread-safe counts, for tests and logs.
  std::size_t allowed_keys() const { return allowed_count_.load(); }
  std::uint64_t reloads() const { return reloads_.load(); }
  std::uint64_t refused() const { return refused_.load(); }

 private:
  void run();
  [[noreturn]] void fail(const std::string& what);  // logs and ends the process
  void handle(std::vector<zmq::message_t>& request);
  void check_folder(bool force);
  void log_refusal(const std::string& key, const std::string& address, const std::string& domain,
                   const std::string& why);

  curve::Cert own_;
  std::string dir_;
  IpAllowlist ips_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<metrics::Registry> registry_;
  zmq::socket_t rep_;
  net::Wakeup stop_wakeup_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};

  // Owned by the thread (after the constructor).
  std::map<std::string, AllowedKey> keys_;
  std::string folder_stamp_;  // names, sizes and mtimes of the folder's files when last read
  std::set<std::string> logged_keys_;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::uint64_t unlogged_refusals_ = 0;

  std::atomic<std::size_t> allowed_count_{0};
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::thread thread_;
};

// For a server process's main(): the Authenticator when one of `served` (the endpoints it binds)
// needs keys and `options` is not insecure; null otherwise. Logs the --insecure warning. The
// caller has checked the options (curve::require_server_keys).
std::shared_ptr<Authenticator> start_for(zmq::context_t& ctx, const curve::Options& options,
                                         const curve::Keys& keys, const std::vector<std::string>& served,
                                         std::shared_ptr<spdlog::logger> log,
                                         std::shared_ptr<metrics::Registry> registry);

}  // namespace even::zap
