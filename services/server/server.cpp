#include "server/server.h"

#include <mutex>
#include <thread>
#include <vector>

namespace even::server {

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      log_(config::make_logger("server", options_.log)),
      metrics_(options_.metrics_endpoint, false),
      notifier_(metrics_.notifier),
      ctx_(1) {
  if (metrics_.server) log_->info("metrics on http://{}/metrics", metrics_.server->endpoint());
  options_.writer.notifier = options_.dispatcher.notifier = options_.reader.notifier = notifier_;
  options_.projector.notifier = notifier_;
  options_.writer.metrics = options_.dispatcher.metrics = options_.reader.metrics = metrics_.registry;
  options_.projector.metrics = metrics_.registry;
  // Before any socket binds: without its ZAP handler, a CURVE server lets every client in.
  const auto keys = curve::load(options_.security);
  auth_ = zap::start_for(ctx_, options_.security, keys,
                         {options_.writer.endpoint, options_.reader.endpoint, options_.dispatcher.pub_endpoint}, log_,
                         metrics_.registry);
  options_.writer.auth = options_.reader.auth = options_.dispatcher.auth = auth_;
  options_.writer.dispatcher_endpoint = kFeedEndpoint;
  options_.dispatcher.pull_endpoint = kFeedEndpoint;
  // The dispatcher binds the inproc PULL first; the writer's PUSH connects to it.
  dispatcher_ = std::make_unique<dispatcher::DispatcherService>(ctx_, options_.db, options_.dispatcher,
                                                                config::make_logger("dispatcher", options_.log));
  writer_ = std::make_unique<writer::WriterService>(ctx_, options_.db, options_.writer,
                                                    config::make_logger("writer", options_.log));
  reader_ = std::make_unique<reader::ReaderService>(ctx_, options_.db, options_.reader,
                                                    config::make_logger("reader", options_.log));
  if (!options_.projections_file.empty()) {
    auto& p = options_.projector;
    p.client.reader_endpoint = options_.reader.endpoint;
    p.client.feed_endpoint = options_.dispatcher.pub_endpoint;
    p.client.security = options_.security;
    if (keys.own) {
      // The projector is a client of this process's own sockets, with this process's key.
      p.client.security.writer_public_key = p.client.security.reader_public_key =
          p.client.security.dispatcher_public_key = keys.own->public_key;
    }
    p.store_db = options_.db;
    projector_ = std::make_unique<projector::ProjectorService>(p, config::make_logger("projector", options_.log));
    projector_->add_config(projector::load_projector_config(options_.projections_file));
  }
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
    if (projector_) projector_->stop();
  };
  // A writer, dispatcher or reader that ends stops the server; a projector that ends (every
  // projection failed) does not: the event store goes on serving.
  auto start = [&](const char* name, auto& service, bool essential = true) {
    if (essential) ++running;
    return std::thread([&, name, essential] {
      int rc = 1;
      try {
        rc = service->run();
      } catch (const std::exception& e) {
        log_->error("{} failed: {}", name, e.what());
      }
      if (rc != 0) log_->error("{} ended with exit code {}", name, rc);
      if (!essential) return;
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
  const int essential = static_cast<int>(threads.size());
  if (projector_) threads.push_back(start("projector", projector_, false));

  const int shutdown = net::shutdown_fd();
  while (!stop_ && !net::shutdown_requested() && running.load() == essential) {
    zmq::pollitem_t items[] = {{nullptr, shutdown, ZMQ_POLLIN, 0}, {nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
    net::poll(items, 2, std::chrono::milliseconds(500));
    wakeup_.drain();
  }
  log_->info("stopping");
  notifier_->stopping();
  stop_all();
  for (auto& t : threads) t.join();
  log_->info("stopped");
  return first_error;
}

}  // namespace even::server
