// A real even-writer process on a loopback port over a fresh test store.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "even/client/client.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {

class WriterProcess {
 public:
  WriterProcess(const TestStore& store, std::string endpoint, std::vector<std::string> extra = {},
                const std::string& log_name = "writer")
      : WriterProcess(store.db(), std::move(endpoint), std::move(extra), log_name) {}
  // On any store, e.g. a PrivateMariaDb's.
  WriterProcess(const config::DbOptions& db, std::string endpoint, std::vector<std::string> extra = {},
                const std::string& log_name = "writer")
      : endpoint_(std::move(endpoint)) {
    std::vector<std::string> args = {bin("services/writer/even-writer"), "--writer-endpoint", endpoint_,
                                     "--log-level", "debug"};
    for (auto& f : db_flags(db)) args.push_back(f);
    for (auto& e : extra) args.push_back(e);
    log_path_ = ::testing::TempDir() + "/" + log_name + "-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter()++) + ".log";
    process_ = std::make_unique<Process>(args, log_path_);
  }
  // Waits until the writer serves (it logs once it holds the lock and is bound).
  bool wait_serving(std::chrono::milliseconds t = std::chrono::seconds(20)) {
    return process_->wait_for_log("serving appends", t);
  }
  Process& process() { return *process_; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string endpoint_;
  std::string log_path_;
  std::unique_ptr<Process> process_;
};

inline client::ClientOptions client_options(const std::string& endpoint, int timeout_ms = 10000) {
  client::ClientOptions o;
  o.writer_endpoint = endpoint;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  o.resend_after = std::chrono::milliseconds(1000);
  return o;
}

inline client::NewEvent event(const std::string& type = "Tested", const std::string& payload = "{}") {
  client::NewEvent e;
  e.type = type;
  e.payload = payload;
  return e;
}

}  // namespace even::test
