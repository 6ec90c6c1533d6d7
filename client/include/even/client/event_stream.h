// EventStream: the result of a read, an input range that fetches its pages lazily.
//
//   for (const auto& e : client.read_all(GlobalSeq(1))) handle(e);
//
// The first page is fetched when the read is made (so a missing stream or a bad request throws
// right there); each following page is requested as soon as the application starts on the
// previous one, so the reader works on page k+1 while the application goes through page k, whose
// events are decoded one at a time as it iterates (read_all also asks for a guess at page k+2,
// see client_read.cpp). So at most three pages are held, whatever the length of the read. Fetching a page may throw the exceptions of even/client/errors.h from
// begin(), operator++ or next(). A page request that got no answer (e.g. the reader restarted)
// is resent with the same position, so a read continues across reader restarts and delivers
// every event exactly once.
//
// Not thread-safe: one thread iterates a stream. An EventStream must not outlive the Client that
// made it. Move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <vector>

#include "even/client/events.h"

namespace even::client {

// Read a stream backward from its last event: read_stream(s, kStreamEnd, Direction::backward).
inline constexpr StreamSeq kStreamEnd{std::numeric_limits<std::int64_t>::max()};

// One page of a read, as the reader sent it (the async page calls of Client return these).
struct ReadPage {
  std::vector<RecordedEvent> events;
  bool end = false;           // nothing more was stored after this page when it was read
  StreamSeq next_stream_seq;  // stream reads: where the following page starts
  GlobalSeq next_global_seq;  // read-all: where the following page starts (filters may skip holes)
  GlobalSeq head;             // read-all pages with end = true: the store's head position
  // Projection-stream pages: each event's projection sequence (they skip the events a stream's
  // lifecycle hides or a scavenge removed); empty: next_stream_seq - events.size(), + 1, ...
  std::vector<std::int64_t> projection_seqs;
};

// The input iterator of Even's lazily paged reads (EventStream, ProjectionEventStream): walks any
// Stream with `const RecordedEvent* next()`; equal to end() after the last event. The event it
// refers to is overwritten when it advances (copy it to keep it).
template <typename Stream>
class PagedIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = RecordedEvent;
  using difference_type = std::ptrdiff_t;
  using pointer = const RecordedEvent*;
  using reference = const RecordedEvent&;

  PagedIterator() = default;
  // Starts at `first` (the stream's first next()).
  PagedIterator(Stream* s, const RecordedEvent* first) : stream_(s), current_(first) {}
  reference operator*() const { return *current_; }
  pointer operator->() const { return current_; }
  PagedIterator& operator++() {
    current_ = stream_->next();
    return *this;
  }
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const { return current_ == nullptr; }

 private:
  Stream* stream_ = nullptr;
  const RecordedEvent* current_ = nullptr;
};

// Every remaining event of a paged read in a vector (for short reads and tests).
template <typename Stream>
std::vector<RecordedEvent> drain_to_vector(Stream& stream) {
  std::vector<RecordedEvent> out;
  while (const auto* e = stream.next()) out.push_back(*e);
  return out;
}

class EventStream {
 public:
  using iterator = PagedIterator<EventStream>;

  EventStream();  // an empty stream
  ~EventStream();
  EventStream(EventStream&&) noexcept;
  EventStream& operator=(EventStream&&) noexcept;

  // Starts the iteration; call once (an input range is consumed as it goes).
  iterator begin() { return iterator(this, next()); }
  std::default_sentinel_t end() const { return {}; }

  // The next event, or nullptr after the last. The event is valid until the next call.
  const RecordedEvent* next();

  // Every remaining event in a vector (for short reads and tests).
  std::vector<RecordedEvent> to_vector() { return drain_to_vector(*this); }

  // True once the read received the page that reached the end of what was stored (rather than
  // stopping at max_count).
  bool reached_end() const;
  // read_all: the store's head position reported with that last page (0 before, and for streams).
  GlobalSeq head() const;

  // The read's state (client_read.cpp): what it reads, the page being delivered, the next one.
  struct State;
  explicit EventStream(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

}  // namespace even::client
