#include "server/server.h"

#include <mutex>
#include <thread>
#include <vector>

namespace even::server {

Server::Server(ServerOptions options)
    : options_(std::move(options)), log_(config::make_logger("server", options_.log)), ctx_(1) {
  options_.writer.dispatcher_endpoint = kFeedEndpoint;
  options_.dispatcher.pull_endpoint = kFeedEndpoint;
  // The dispatcher binds the inproc PULL first; the writer's PUSH connects to it.
  dispatcher_ = std::make_unique<dispatcher::DispatcherService>(ctx_, options_.db, options_.dispatcher,
                                                                config::make_logger("dispatcher", options_.log));
  writer_ = std::make_unique<writer::WriterService>(ctx_, options_.db, options_.writer,
                                                    config::make_logger("writer", options_.log));
  reader_ = std::make_unique<reader::ReaderService>(ctx_, options_.db, options_.reader,
                                                    config::make_logger("reader", options_.log));
}

Server::~Server() = default;

void Server::request_stop() {
  stop_ = true;
  wakeup_.notify();
}

int Server::run() {
  std::mutex mu;
  int first_error = 0;
  std::atomic<int> running{0};
  auto stop_all = [&] {
    dispatcher_->request_stop();
    writer_->request_stop();
    reader_->request_stop();
  };
  auto start = [&](const char* name, auto& service) {
    ++running;
    return std::thread([&, name] {
      int rc = 1;
      try {
        rc = service->run();
      } catch (const std::exception& e) {
        log_->error("{} failed: {}", name, e.what());
      }
      if (rc != 0) log_->error("{} ended with exit code {}", name, rc);
      {
        std::lock_guard lock(mu);
        if (rc != 0 && first_error == 0) first_error = rc;
      }
      --running;
      wakeup_.notify();  // one service ending stops the server
    });
  };
  log_->info("single-app mode: writer {}, reader {}, feed {} (writer -> dispatcher over {})",
             options_.writer.endpoint, options_.reader.endpoint, options_.dispatcher.pub_endpoint, kFeedEndpoint);
  std::vector<std::thread> threads;
  threads.push_back(start("dispatcher", dispatcher_));
  threads.push_back(start("reader", reader_));
  threads.push_back(start("writer", writer_));

  const int shutdown = net::shutdown_fd();
  while (!stop_ && !net::shutdown_requested() && running.load() == static_cast<int>(threads.size())) {
    zmq::pollitem_t items[] = {{nullptr, shutdown, ZMQ_POLLIN, 0}, {nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
    net::poll(items, 2, std::chrono::milliseconds(500));
    wakeup_.drain();
  }
  log_->info("stopping");
  stop_all();
  for (auto& t : threads) t.join();
  log_->info("stopped");
  return first_error;
}

}  // namespace even::server
