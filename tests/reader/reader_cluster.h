// ReaderCluster: what every reader test starts: a fresh store, a real even-writer to populate it
// (through the client's append) and a real even-reader, all on loopback; plus a Client for both.
// Processes are ended by PID when the cluster is destroyed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "even/client/client.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {

struct ReaderFlags {
  std::vector<std::string> extra;  // e.g. {"--reader.page-max-events", "7"}
};

class ReaderCluster {
 public:
  // `db`: another store than the cluster's fresh TestStore, e.g. a primary and its replica (a url
  // list). `writer_extra`: more flags for even-writer, e.g. {"--dispatcher-pull-endpoint", pull}.
  explicit ReaderCluster(ReaderFlags flags = {}, std::optional<config::DbOptions> db = std::nullopt,
                         std::vector<std::string> writer_extra = {});
  ~ReaderCluster();

  // Starts even-reader (again) on the same endpoint; waits until it serves.
  void start_reader();
  // SIGKILLs the reader and reaps it.
  void kill_reader();
  Process& reader() { return *reader_; }

  // A client for the writer and the reader, with short resend times for tests.
  client::ClientOptions client_options() const;
  client::Client& client() { return *client_; }

  // Appends `n` events to `stream` (type `type`, payload {"i":k}), in appends of up to 100.
  std::vector<client::AppendResult> append_n(const std::string& stream, const std::string& type, int n);
  // The store the writer and the reader use: the constructor's `db`, else `store`'s.
  const config::DbOptions& db() const { return db_ ? *db_ : store.db(); }

  TestStore store;
  std::string writer_endpoint;
  std::string reader_endpoint;

 private:
  ReaderFlags flags_;
  std::optional<config::DbOptions> db_;
  std::string log_prefix_;
  int reader_starts_ = 0;
  std::unique_ptr<Process> writer_;
  std::unique_ptr<Process> reader_;
  std::unique_ptr<client::Client> client_;
};

}  // namespace even::test
