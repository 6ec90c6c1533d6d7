#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <random>
#include <stdexcept>
#include <thread>

#include "bench/bench.h"
#include "even/common/curve.h"
#include "even/common/store/mysql.h"
#include "even/common/store/schema.h"

namespace even::bench {

namespace {
std::string bin_dir() {
  if (const char* d = std::getenv("EVEN_BIN_DIR")) return d;
#ifdef EVEN_BIN_DIR
  return EVEN_BIN_DIR;
#else
  return ".";
#endif
}

// A service binary: in the build tree (bin_dir()/services/<name>/even-<name>), else installed next
// to even-bench itself (/usr/bin/even-<name> from the Debian package).
std::string service_path(const std::string& name) {
  std::string built = bin_dir() + "/services/" + name + "/even-" + name;
  if (::access(built.c_str(), X_OK) == 0 || std::getenv("EVEN_BIN_DIR")) return built;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return built;
  std::string dir(self, static_cast<std::size_t>(n));
  return dir.substr(0, dir.rfind('/')) + "/even-" + name;
}

bool reachable(const config::DbOptions& db) {
  try {
    store::Connection::open(db, false);
    return true;
  } catch (const sql::SQLException&) {
    return false;
  }
}
}  // namespace

config::DbOptions ensure_database(const config::DbOptions& given, bool url_given) {
  if (reachable(given)) return given;
  if (url_given) throw std::runtime_error("cannot reach the store at " + given.url);
  // The private MariaDB of ops/even, started on demand.
  std::string ops = bin_dir() + "/../ops/even";
  std::cerr << "[bench] no MariaDB at " << given.url << "; starting the private one (" << ops << " db start)\n";
  if (std::system((ops + " db start >&2").c_str()) != 0 || !reachable(given))
    throw std::runtime_error("could not start the private MariaDB with " + ops + " db start");
  return given;
}

namespace {
// Drops the scratch databases of earlier even-bench runs on this host that died without their
// destructor (SIGKILL, a crash): "even_bench_<pid>_<n>" whose pid no longer runs. Only for a store
// on loopback, where the pid is this host's.
void drop_orphaned_scratch_stores(const config::DbOptions& server) {
  if (!store::is_loopback_url(server.url)) return;
  auto conn = store::Connection::open(server, false);
  std::vector<std::string> orphans;
  auto rs = conn->query("SHOW DATABASES LIKE 'even\\_bench\\_%'");
  while (rs->next()) {
    const std::string name = rs->getString(1);
    const auto pid = std::strtol(name.c_str() + std::string("even_bench_").size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) orphans.push_back(name);
  }
  for (const auto& name : orphans) {
    std::cerr << "[bench] dropping " << name << ", the scratch store of an even-bench that no longer runs\n";
    conn->execute("DROP DATABASE IF EXISTS " + store::identifier(name));
  }
}
}  // namespace

ScratchStore::ScratchStore(config::DbOptions server) : db_(std::move(server)) {
  drop_orphaned_scratch_stores(db_);
  std::random_device rd;
  db_.name = "even_bench_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 100000);
  store::init_store(db_);
}

ScratchStore::~ScratchStore() {
  try {
    store::Connection::open(db_, false)->execute("DROP DATABASE IF EXISTS " + store::identifier(db_.name));
  } catch (...) {
  }
}

ServiceProcess::ServiceProcess(const std::string& name, std::vector<std::string> args) {
  std::string path = name.find('/') != std::string::npos ? name : service_path(name);
  args.insert(args.begin(), path);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a killed even-bench leaves no service behind
    ::execv(argv[0], argv.data());
    std::cerr << "cannot start " << argv[0] << "\n";
    ::_exit(127);
  }
}

ServiceProcess::~ServiceProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

BenchKeys::BenchKeys(bool insecure) {
  if (insecure) {
    service_args_ = {"--insecure"};
    client_args_ = {"--insecure"};
    client_.insecure = true;
    return;
  }
  char pattern[] = "/tmp/even-bench-keys-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  const std::string allowed = dir_ + "/allowed";
  std::filesystem::create_directory(allowed);
  curve::save_cert(curve::generate({{"name", "bench-server"}}), dir_ + "/server.key", dir_ + "/server.key_secret");
  curve::save_cert(curve::generate({{"name", "bench-client"}, {"role", "append read subscribe feed"}}),
                   allowed + "/client.key", dir_ + "/client.key_secret");
  const std::string server_key = dir_ + "/server.key";
  service_args_ = {"--curve-secret-key", dir_ + "/server.key_secret", "--allow-keys-dir", allowed,
                   "--writer-public-key", server_key, "--reader-public-key", server_key,
                   "--dispatcher-public-key", server_key, "--groups-public-key", server_key};
  client_.secret_key = dir_ + "/client.key_secret";
  client_.writer_public_key = client_.reader_public_key = client_.dispatcher_public_key = server_key;
  client_.groups_public_key = server_key;
  client_args_ = {"--curve-secret-key", client_.secret_key, "--groups-public-key", server_key};
}

BenchKeys::~BenchKeys() {
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void add_insecure_option(config::po::options_description& desc, bool& insecure) {
  desc.add_options()("insecure", config::po::bool_switch(&insecure),
                     "plain TCP between the benchmark's clients and services (default: CURVE with keys made for the "
                     "run)");
}

Percentiles percentiles(std::vector<double> s) {
  Percentiles p;
  if (s.empty()) return p;
  std::sort(s.begin(), s.end());
  auto at = [&](double q) { return s[std::min(s.size() - 1, static_cast<std::size_t>(q * static_cast<double>(s.size())))]; };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = s.back();
  return p;
}

double peak_rss_mb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double process_peak_rss_mb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace even::bench
