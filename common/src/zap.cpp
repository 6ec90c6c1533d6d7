#include "even/common/zap.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <zmq_addon.hpp>

namespace even::zap {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr auto kCheckEvery = std::chrono::milliseconds(1000);
constexpr auto kRefusalLogPeriod = std::chrono::milliseconds(200);
constexpr std::size_t kMaxLoggedKeys = 10000;  // then only the throttle limits the lines

// SIGHUP asks every Authenticator of the process to reread its folder. Process-wide by nature:
// a signal handler can only reach global state.
std::atomic<std::uint64_t> g_hangups{0};
extern "C" void on_hangup(int) { g_hangups.fetch_add(1); }
void install_hangup_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_hangup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGHUP, &sa, nullptr);
  });
}

std::string z85(const std::string& binary_key) {
  if (binary_key.size() != 32) return {};
  char out[curve::kKeyChars + 1];
  if (!zmq_z85_encode(out, reinterpret_cast<const std::uint8_t*>(binary_key.data()), 32)) return {};
  return out;
}

// What decides whether the folder changed: each key file's name, size and modification time.
std::string folder_stamp(const std::string& dir) {
  std::vector<std::string> entries;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".key") continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    entries.push_back(e.path().filename().string() + ":" + std::to_string(st.st_size) + ":" +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  }
  if (ec) return "unreadable: " + ec.message();
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const auto& e : entries) out += e + "\n";
  return out;
}

}  // namespace

IpAllowlist::IpAllowlist(const std::string& cidrs) {
  std::size_t i = 0;
  while (i <= cidrs.size()) {
    auto end = cidrs.find(',', i);
    if (end == std::string::npos) end = cidrs.size();
    std::string entry = cidrs.substr(i, end - i);
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    i = end + 1;
    if (entry.empty()) continue;
    Net n{};
    const auto slash = entry.find('/');
    const std::string address = entry.substr(0, slash);
    if (::inet_pton(AF_INET, address.c_str(), n.bytes) == 1) {
      n.family = AF_INET;
      n.prefix = 32;
    } else if (::inet_pton(AF_INET6, address.c_str(), n.bytes) == 1) {
      n.family = AF_INET6;
      n.prefix = 128;
    } else {
      throw std::invalid_argument("allow-ips: '" + entry + "' is not an IP address or CIDR");
    }
    if (slash != std::string::npos) {
      const std::string bits = entry.substr(slash + 1);
      const int max = n.prefix;
      char* stop = nullptr;
      const long v = std::strtol(bits.c_str(), &stop, 10);
      if (bits.empty() || *stop != '\0' || v < 0 || v > max)
        throw std::invalid_argument("allow-ips: '" + entry + "' has a bad prefix length (0-" + std::to_string(max) + ")");
      n.prefix = static_cast<int>(v);
    }
    nets_.push_back(n);
  }
}

bool IpAllowlist::allows(const std::string& address) const {
  if (nets_.empty()) return true;
  unsigned char bytes[16];
  int family;
  std::string a = address;
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  if (::inet_pton(AF_INET, a.c_str(), bytes) == 1) {
    family = AF_INET;
  } else if (::inet_pton(AF_INET6, a.c_str(), bytes) == 1) {
    family = AF_INET6;
    // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d: check it as IPv4 too.
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, mapped, 12) == 0 && allows(std::to_string(bytes[12]) + "." + std::to_string(bytes[13]) +
                                                      "." + std::to_string(bytes[14]) + "." +
                                                      std::to_string(bytes[15])))
      return true;
  } else {
    return false;
  }
  for (const auto& n : nets_) {
    if (n.family != family) continue;
    int bits = n.prefix, i = 0;
    bool match = true;
    for (; bits >= 8; bits -= 8, ++i)
      if (bytes[i] != n.bytes[i]) match = false;
    if (match && bits > 0) {
      const unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits));
      if ((bytes[i] & mask) != (n.bytes[i] & mask)) match = false;
    }
    if (match) return true;
  }
  return false;
}

std::map<std::string, AllowedKey> load_allowlist(const std::string& dir, std::vector<std::string>* problems) {
  std::map<std::string, AllowedKey> keys;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) throw std::runtime_error("cannot read allow-keys-dir " + dir + ": " + ec.message());
  std::vector<std::filesystem::path> files;
  for (const auto& e : it)
    if (e.path().extension() == ".key") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    try {
      const auto cert = curve::load_cert(path.string());
      AllowedKey k;
      k.name = path.stem().string();
      k.roles = curve::parse_roles(cert.metadata_value("role"));
      if (k.roles.empty() && problems)
        problems->push_back(path.string() + ": no role in its metadata (role = \"append read subscribe feed\"): "
                                            "the key is let in nowhere");
      keys[cert.public_key] = std::move(k);
    } catch (const std::exception& e) {
      if (problems) problems->push_back(std::string(e.what()) + " (skipped)");
    }
  }
  return keys;
}

Authenticator::Authenticator(zmq::context_t& ctx, curve::Cert own, std::string allow_keys_dir,
                             const std::string& allow_ips, std::shared_ptr<spdlog::logger> log,
                             std::shared_ptr<metrics::Registry> registry)
    : own_(std::move(own)),
      dir_(std::move(allow_keys_dir)),
      ips_(allow_ips),
      log_(std::move(log)),
      registry_(std::move(registry)),
      rep_(ctx, zmq::socket_type::rep) {
  if (own_.secret_key.empty()) throw std::invalid_argument("the server's cert has no secret key");
  install_hangup_handler();
  rep_.set(zmq::sockopt::linger, 0);
  rep_.set(zmq::sockopt::rcvhwm, 10000);
  rep_.set(zmq::sockopt::sndhwm, 10000);
  try {
    rep_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(std::string("cannot bind the ZAP handler to ") + kZapEndpoint + ": " + e.what());
  }
  check_folder(true);
  if (keys_.empty()) log_->warn("allow-keys-dir {} lists no key: every client is refused", dir_);
  log_->info("CURVE on: server key {}, {} client keys allowed from {}{}", own_.public_key, keys_.size(), dir_,
             ips_.empty() ? "" : ", IP allowlist on");
  thread_ = std::thread([this] { run(); });
}

Authenticator::~Authenticator() {
  stop_ = true;
  stop_wakeup_.notify();
  if (thread_.joinable()) thread_.join();
  // Free the endpoint now (closing alone frees it later, on libzmq's reaper thread), so that a
  // handler made next on the same context can bind.
  try {
    if (rep_) rep_.unbind(kZapEndpoint);
  } catch (const zmq::error_t&) {
  }
}

void Authenticator::secure(zmq::socket_t& socket, const std::string& endpoint, curve::Role role) const {
  if (curve::needs_keys(endpoint)) curve::make_server(socket, own_, role);
}

void Authenticator::reload() {
  reload_ = true;
  stop_wakeup_.notify();
}

void Authenticator::run() {
  try {
    auto last_check = std::chrono::steady_clock::now();
    std::uint64_t hangups = g_hangups.load();
    std::vector<zmq::message_t> request;
    while (!stop_) {
      zmq::pollitem_t items[] = {{rep_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0}};
      net::poll(items, 2, std::chrono::milliseconds(250));
      if (items[1].revents & ZMQ_POLLIN) stop_wakeup_.drain();
      if (stop_) break;
      if (items[0].revents & ZMQ_POLLIN) {
        // Answer what is queued before looking at the folder again.
        for (int i = 0; i < 1000; ++i) {
          request.clear();
          if (!zmq::recv_multipart(rep_, std::back_inserter(request), zmq::recv_flags::dontwait)) break;
          handle(request);
        }
      }
      const auto now = std::chrono::steady_clock::now();
      const std::uint64_t h = g_hangups.load();
      if (h != hangups || reload_.exchange(false)) {
        if (h != hangups) log_->info("SIGHUP: rereading allow-keys-dir {}", dir_);
        hangups = h;
        check_folder(true);
        last_check = now;
      } else if (now - last_check >= kCheckEvery) {
        check_folder(false);
        last_check = now;
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == ETERM) {
      // The context is being closed: the process is ending and no socket of it serves any more.
      rep_.close();
      return;
    }
    fail(e.what());
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

void Authenticator::fail(const std::string& what) {
  // Without a handler libzmq would let every CURVE client in: never serve on.
  log_->critical("the ZAP handler failed ({}); exiting with code 70 rather than serve without authentication", what);
  log_->flush();
  std::_Exit(70);
}

void Authenticator::check_folder(bool force) {
  const std::string stamp = folder_stamp(dir_);
  if (!force && stamp == folder_stamp_) return;
  std::vector<std::string> problems;
  std::map<std::string, AllowedKey> keys;
  try {
    keys = load_allowlist(dir_, &problems);
  } catch (const std::exception& e) {
    if (allowed_count_.load() == 0 && reloads_.load() == 0) throw;  // at start-up: a configuration error
    log_->error("{}; keeping the {} keys read before", e.what(), keys_.size());
    folder_stamp_ = stamp;
    return;
  }
  for (const auto& p : problems) log_->warn("allow-keys-dir: {}", p);
  const bool first = reloads_.load() == 0 && folder_stamp_.empty();
  if (!first) log_->info("allow-keys-dir {} reread: {} keys (were {})", dir_, keys.size(), keys_.size());
  keys_ = std::move(keys);
  folder_stamp_ = stamp;
  // A key refused before may be listed now: log its next refusal again.
  logged_keys_.clear();
  allowed_count_ = keys_.size();
  reloads_.fetch_add(1);
}

void Authenticator::handle(std::vector<zmq::message_t>& req) {
  // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
  auto reply = [&](const char* code, const std::string& text, const std::string& user) {
    std::vector<zmq::message_t> out;
    out.emplace_back("1.0", 3);
    out.emplace_back(req.size() > 1 ? req[1].data() : nullptr, req.size() > 1 ? req[1].size() : 0);
    out.emplace_back(code, std::strlen(code));
    out.emplace_back(text.data(), text.size());
    out.emplace_back(user.data(), user.size());
    out.emplace_back();  // no metadata
    zmq::send_multipart(rep_, out);
  };
  if (req.size() < 6 || req[0].to_string_view() != "1.0") {
    log_->error("ZAP: malformed request of {} frames", req.size());
    return reply("500", "malformed ZAP request", "");
  }
  const std::string domain = req[2].to_string();
  const std::string address = req[3].to_string();
  const std::string mechanism = req[5].to_string();
  const auto role = curve::role_from_name(domain);
  if (mechanism != "CURVE" || req.size() < 7) {
    log_refusal("", address, domain, "mechanism " + mechanism + ", not CURVE");
    return reply("400", "CURVE required", "");
  }
  const std::string key = z85(req[6].to_string());
  if (!role) {
    log_refusal(key, address, domain, "unknown ZAP domain");
    return reply("400", "unknown domain", "");
  }
  if (key == own_.public_key) return reply("200", "OK", "self");  // e.g. even-server's projector
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    log_refusal(key, address, domain, "key not in allow-keys-dir");
    return reply("400", "key not allowed", "");
  }
  if (!it->second.roles.count(*role)) {
    log_refusal(key, address, domain, "key '" + it->second.name + "' lacks role " + domain);
    return reply("400", "role not allowed", "");
  }
  if (!ips_.allows(address)) {
    log_refusal(key, address, domain, "address not in allow-ips");
    return reply("400", "address not allowed", "");
  }
  reply("200", "OK", it->second.name);
}

void Authenticator::log_refusal(const std::string& key, const std::string& address, const std::string& domain,
                                const std::string& why) {
  refused_.fetch_add(1);
  if (registry_)
    registry_
        ->counter("even_zap_refused_total", "Clients refused by the ZAP handler (CURVE allowlist), by socket role",
                  {{"role", curve::role_from_name(domain) ? domain : "unknown"}})
        .inc();
  const std::string once = key + "|" + domain + "|" + why;
  if (logged_keys_.count(once)) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_refusal_log_ != std::chrono::steady_clock::time_point{} && now - last_refusal_log_ < kRefusalLogPeriod) {
    ++unlogged_refusals_;  // its key is logged at its next refusal
    return;
  }
  if (logged_keys_.size() < kMaxLoggedKeys) logged_keys_.insert(once);
  last_refusal_log_ = now;
  log_->warn("refused a client on {} from {}: {} (key {}){}", domain.empty() ? "(no domain)" : domain, address, why,
             key.empty() ? "none" : key,
             unlogged_refusals_ ? fmt::format("; {} refusals not logged before this line", unlogged_refusals_) : "");
  unlogged_refusals_ = 0;
}

std::shared_ptr<Authenticator> start_for(zmq::context_t& ctx, const curve::Options& options, const curve::Keys& keys,
                                         const std::vector<std::string>& served, std::shared_ptr<spdlog::logger> log,
                                         std::shared_ptr<metrics::Registry> registry) {
  if (options.insecure) {
    log->warn("--insecure: plain TCP, no encryption and no client authentication: anyone who reaches {} may use it",
              served.empty() ? std::string("this process's sockets") : served.front());
    return nullptr;
  }
  if (std::none_of(served.begin(), served.end(), [](const std::string& e) { return curve::needs_keys(e); }))
    return nullptr;
  if (!keys.own) throw std::invalid_argument("a CURVE server needs curve-secret-key");
  return std::make_shared<Authenticator>(ctx, *keys.own, options.allow_keys_dir, options.allow_ips, std::move(log),
                                         std::move(registry));
}

}  // namespace even::zap
