// even-bench: benchmark cases, one file each (bench_<case>.cc), listed in main.cc. Each case
// prints one JSON line per measurement on stdout (progress goes to stderr) and compares with a
// baseline measured in the same run against the same MariaDB.
#pragma once

#include <chrono>
#include <cstdint>
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
// destruction. `name` is e.g. "writer" -> <build>/services/writer/even-writer.
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

 private:
  std::string dir_;
  std::vector<std::string> service_args_;
  SecurityOptions client_;
};
// --insecure for a case: plain TCP instead of CURVE.
void add_insecure_option(config::po::options_description& desc, bool& insecure);

// Latency percentiles over a sample, in milliseconds.
struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<double> samples_ms);

// Peak resident set size of this process, MiB.
double peak_rss_mb();

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t);

}  // namespace even::bench
