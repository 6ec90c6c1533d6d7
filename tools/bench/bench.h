// even-bench: benchmark cases, one file each (bench_<case>.cc), listed in main.cc. Each case
// prints one JSON line per measurement on stdout (progress goes to stderr) and compares with a
// baseline measured in the same run against the same MariaDB.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "even/client/client.h"
#include "even/common/config.h"

namespace even::bench {

struct Case {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

int bench_append(int argc, char** argv);
int bench_project(int argc, char** argv);  // bench_project.cc
int bench_commands(int argc, char** argv);  // bench_commands.cc
int bench_latency(int argc, char** argv);  // bench_latency.cc
int bench_read(int argc, char** argv);  // bench_read.cc
int bench_scale(int argc, char** argv);  // bench_scale.cc
int bench_group(int argc, char** argv);  // bench_group.cc

// The MariaDB a benchmark uses: the one given by --db-url, or the project's private one
// (ops/even db start, 127.0.0.1:3307), which is started if it is not running.
config::DbOptions ensure_database(const config::DbOptions& given, bool url_given);
// A fresh, initialised store database for one run; dropped on destruction.
class ScratchStore {
 public:
  explicit ScratchStore(config::DbOptions server);
  ~ScratchStore();
  const config::DbOptions& db() const { return db_; }

 private:
  config::DbOptions db_;
};

// A service binary started for the benchmark (writer, reader, dispatcher); SIGTERM + wait on
// destruction, and SIGTERM when even-bench dies (PR_SET_PDEATHSIG, which follows the thread that
// forked: start services from the main thread). `name` is e.g. "writer" ->
// <build>/services/writer/even-writer, or a path (with a '/') of another program.
class ServiceProcess {
 public:
  ServiceProcess(const std::string& name, std::vector<std::string> args);
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

// The run's CURVE keys (README "Security"): made fresh in a temporary folder that is removed on
// destruction, one server key for every service the case starts (so the writer's feed to the
// dispatcher is let in as the server's own key) and one client key with every role. With
// --insecure (add_insecure_option): plain TCP, as before CURVE.
class BenchKeys {
 public:
  explicit BenchKeys(bool insecure);
  ~BenchKeys();
  BenchKeys(const BenchKeys&) = delete;
  BenchKeys& operator=(const BenchKeys&) = delete;
  // The flags a service started by the case needs.
  const std::vector<std::string>& service_args() const { return service_args_; }
  // Sets a client's keys.
  void apply(client::ClientOptions& co) const { co.security = client_; }
  // The same as flags, for a client program the case starts (even-group-consumer).
  const std::vector<std::string>& client_args() const { return client_args_; }

 private:
  std::string dir_;
  std::vector<std::string> service_args_;
  std::vector<std::string> client_args_;
  SecurityOptions client_;
};
// --insecure for a case: plain TCP instead of CURVE.
void add_insecure_option(config::po::options_description& desc, bool& insecure);

// Latency percentiles over a sample, in milliseconds.
struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<double> samples_ms);

// The application's side of an append load: `clients` closed-loop appenders, each on its own
// stream <stream_prefix><k> with one append in flight at a time, spread over `sockets` Client
// objects (one DEALER socket and I/O thread each). Async (the default): each appender's next
// append is started from the completion handler of the previous one, as a server handling many
// requests from few threads does. With sync_threads: one application thread per appender,
// blocked in append(). Serial: exact expected versions (the streams must be new); else `any`.
struct LoadShape {
  bool serial = false;
  int clients = 64;
  int sockets = 2;
  bool sync_threads = false;
  int events_per_append = 1;
  int payload_bytes = 200;
  std::string stream_prefix = "bench-";
};
struct AppendRun {
  std::uint64_t appends = 0;
  std::uint64_t events = 0;
  double seconds = 0;
  Percentiles latency;
  std::uint64_t errors = 0;
};
// Runs that load against the writer at `endpoint` for `seconds` (bench_append.cc).
AppendRun run_clients(const std::string& endpoint, const BenchKeys& keys, const LoadShape& shape, double seconds);
// The append baseline: one connection inserting the same kind of rows into `events` with multi-row
// INSERTs of `batch_rows` rows, one transaction each, for `seconds`, spread over `streams`
// streams <stream_prefix><k> (new ones); events/s.
double raw_insert_rate(const config::DbOptions& db, int batch_rows, double seconds, int payload_bytes, int streams,
                       const std::string& stream_prefix);

// One event of a bulk load, as its case makes it; the loader adds id (random), category (from the
// stream), time and format (JSON).
struct BulkRow {
  std::string stream;
  std::int64_t stream_seq = 0;
  std::string type;
  std::string payload;
};
// Inserts the events make(0, row) ... make(count - 1, row) straight into `events` (not through the
// writer: what the cases that load measure is elsewhere), with multi-row INSERTs of 2,000 rows a
// transaction, and a streams row for each stream whose event 1 it inserts. Progress with rate and
// ETA goes to stderr every 2 s. Returns the seconds it took.
double bulk_load(const config::DbOptions& db, std::uint64_t count,
                 const std::function<void(std::uint64_t, BulkRow&)>& make);

// Peak resident set (VmHWM) of another process, MiB; 0 when unknown.
double process_peak_rss_mb(int pid);

// Peak resident set size of this process, MiB.
double peak_rss_mb();

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t);

}  // namespace even::bench
