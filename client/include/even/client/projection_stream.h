// ProjectionEventStream: the result of Client::read_projection, a read of a projection stream
// (a named index of matching events kept by even-projector, numbered 1, 2, 3 ... without holes;
// services/projector/README.md). An input range like EventStream:
//
//   for (const auto& e : client.read_projection("big-deposits")) use(e);
//
// Pages are fetched from even-reader as it goes: the next page is requested while the
// application works through the current one, so at most two pages are held. The first page is
// fetched when the read is made (NotFound, InvalidRequest... throw there); later pages may throw
// the exceptions of even/client/errors.h from begin(), operator++ or next().
//
// Not thread-safe: one thread iterates it. It must not outlive the Client that made it. Move-only.
#pragma once

#include <cstddef>
#include <future>
#include <iterator>
#include <string>

#include "even/client/event_stream.h"
#include "even/client/events.h"
#include "even/common/types.h"

namespace even::client {

class Client;

class ProjectionEventStream {
 public:
  using iterator = PagedIterator<ProjectionEventStream>;

  // Made by Client::read_projection.
  ProjectionEventStream(Client& client, std::string name, ProjectionSeq from, std::size_t max_count);
  ProjectionEventStream(ProjectionEventStream&&) noexcept = default;
  ProjectionEventStream& operator=(ProjectionEventStream&&) noexcept = default;

  iterator begin() { return iterator(this, next()); }
  std::default_sentinel_t end() const { return {}; }
  // The next event, or nullptr after the last. Valid until the next call.
  const RecordedEvent* next();
  // The projection sequence of the event next() returned last (0 before the first).
  ProjectionSeq seq() const { return last_seq_; }
  std::vector<RecordedEvent> to_vector() { return drain_to_vector(*this); }
  // True once a page reached the end of the index.
  bool reached_end() const { return page_.end; }

 private:
  void take_page();
  Client* client_;
  std::string name_;
  std::size_t remaining_;
  ReadPage page_;
  std::size_t index_ = 0;
  ProjectionSeq page_first_, last_seq_;
  std::future<ReadPage> pending_;
};

}  // namespace even::client
