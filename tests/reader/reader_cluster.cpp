#include "reader_cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

namespace even::test {

namespace {
std::string log_prefix() {
  static std::atomic<int> n{0};
  return "/tmp/even-reader-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}
}  // namespace

ReaderCluster::ReaderCluster(ReaderFlags flags, std::optional<config::DbOptions> other_db,
                             std::vector<std::string> writer_extra)
    : writer_endpoint(loopback_endpoint()),
      reader_endpoint(loopback_endpoint()),
      flags_(std::move(flags)),
      db_(std::move(other_db)),
      log_prefix_(log_prefix()) {
  std::vector<std::string> w = {bin("services/writer/even-writer"), "--writer-endpoint", writer_endpoint, "--writer.no-standby"};
  for (auto& f : db_flags(db())) w.push_back(f);
  for (auto& f : writer_extra) w.push_back(f);
  writer_ = std::make_unique<Process>(w, log_prefix_ + "-writer.log");
  if (!writer_->wait_for_log("serving appends", std::chrono::seconds(20)))
    throw std::runtime_error("even-writer did not start; its log:\n" + writer_->log());
  start_reader();
  client_ = std::make_unique<client::Client>(client_options());
}

ReaderCluster::~ReaderCluster() {
  client_.reset();
  if (reader_) {
    reader_->signal(SIGTERM);
    reader_->wait(std::chrono::seconds(10));
  }
  if (writer_) {
    writer_->signal(SIGTERM);
    writer_->wait(std::chrono::seconds(10));
  }
}

void ReaderCluster::start_reader() {
  std::vector<std::string> r = {bin("services/reader/even-reader"), "--reader-endpoint", reader_endpoint,
                                "--reader.workers", "2", "--log-level", "debug"};
  for (auto& f : db_flags(db())) r.push_back(f);
  for (auto& f : flags_.extra) r.push_back(f);
  const std::string log = log_prefix_ + "-reader" + std::to_string(reader_starts_++) + ".log";
  reader_ = std::make_unique<Process>(r, log);
  if (!reader_->wait_for_log("serving reads", std::chrono::seconds(20)))
    throw std::runtime_error("even-reader did not start; its log:\n" + reader_->log());
}

void ReaderCluster::kill_reader() {
  reader_->signal(SIGKILL);
  reader_->wait(std::chrono::seconds(10));
}

client::ClientOptions ReaderCluster::client_options() const {
  client::ClientOptions co;
  co.writer_endpoint = writer_endpoint;
  co.reader_endpoint = reader_endpoint;
  co.timeout = std::chrono::seconds(20);
  co.resend_after = std::chrono::milliseconds(300);
  return co;
}

std::vector<client::AppendResult> ReaderCluster::append_n(const std::string& stream, const std::string& type, int n) {
  std::vector<client::AppendResult> results;
  for (int done = 0; done < n;) {
    std::vector<client::NewEvent> batch;
    for (int k = 0; k < 100 && done < n; ++k, ++done) {
      client::NewEvent e;
      e.type = type;
      e.payload = "{\"i\":" + std::to_string(done) + "}";
      e.metadata = "{\"m\":\"" + stream + "\"}";
      batch.push_back(std::move(e));
    }
    results.push_back(client_->append(stream, ExpectedVersion::any(), batch));
  }
  return results;
}

}  // namespace even::test
