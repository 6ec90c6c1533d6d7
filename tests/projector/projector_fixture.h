// What the projector tests share: a store with real even-writer, even-dispatcher and even-reader
// (tests/dispatcher/cluster.h), a query database of its own on the same server, projector
// processes (even-projector, or projector_host with its C++ projection), a background load, and
// the read model computed directly from the events table to compare with.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dispatcher/cluster.h"

namespace even::test {

// The SQL-config projection the tests use: the same read model as projector_host's cpp_totals
// (per acct stream: count and signed amount; a log row per application), plus a projection
// stream of the acct Deposited events.
extern const char* const kTotalsConfig;

struct Totals {
  std::int64_t n = 0, amount = 0;
  bool operator==(const Totals&) const = default;
};
using TotalsMap = std::map<std::string, Totals>;

struct CheckpointRow {
  std::uint64_t position = 0, events_applied = 0;
  std::string state, error;
  bool exists = false;
};

// Appends from `threads` clients until stop(): 1..3 events per append to acct-<t>_<k>
// (Deposited / Withdrawn with {"amount": N}), every fourth append an "other-<t>" Noise event.
class Load {
 public:
  Load(client::ClientOptions options, int threads, int max_appends_per_thread = 1 << 30);
  ~Load();
  void stop();  // and join
  std::size_t events() const { return events_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> events_{0};
  std::vector<std::thread> threads_;
};

class ProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // The query database the projectors write to: its rows (columns as text, "" for NULL) and the
  // flags that point a projector at it. Here a MariaDB database (`query`); PgProjectorTest
  // (postgres_projector_test.cpp) a PostgreSQL one.
  virtual std::vector<std::vector<std::string>> query_rows(const std::string& sql) const;
  virtual std::vector<std::string> query_db_flags() const;

  std::string write_file(const std::string& name, const std::string& content);
  // Starts even-projector (host = false) or projector_host with `config` (a path; may be empty).
  std::unique_ptr<Process> start_projector(const std::string& config, std::vector<std::string> extra = {},
                                           bool host = false);
  client::ClientOptions client_options() const { return cluster.client_options(); }
  // Appends `n` events one append at a time to acct-x (Deposited, amount i). Returns the last global seq.
  std::uint64_t append_deposits(int n, const std::string& stream = "acct-x");

  // The acct totals computed directly from the store's events.
  TotalsMap expected_totals() const;
  // The global seqs of the acct Deposited / Withdrawn events, ascending.
  std::vector<std::uint64_t> expected_acct_seqs(bool deposits_only = false) const;
  TotalsMap table_totals(const std::string& table) const;
  // Global seqs of a log table in application order (by id).
  std::vector<std::uint64_t> log_seqs(const std::string& table) const;
  CheckpointRow checkpoint(const std::string& name, bool stream = false) const;
  // Waits until the projection's checkpoint reached the store's head (and state is running).
  ::testing::AssertionResult wait_caught_up(const std::string& name, std::chrono::seconds timeout,
                                            bool stream = false) const;
  // Runs evenctl with args (+ the store / query db flags); returns the exit code, output in `out`.
  int evenctl(std::vector<std::string> args, std::string* out = nullptr) const;
  std::vector<std::string> projector_flags() const;

  Cluster cluster;
  TestStore query{false};  // the query database: an empty database of its own
  int projector_runs_ = 0;
};

// Both read models equal the one computed from the events, each event applied once, in order.
::testing::AssertionResult read_model_exact(const TotalsMap& expected, const std::vector<std::uint64_t>& expected_seqs,
                                            const TotalsMap& got, const std::vector<std::uint64_t>& got_log);

}  // namespace even::test
