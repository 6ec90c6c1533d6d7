// EventStream: the result of a read, an input range that fetches its pages lazily.
//
//   for (const auto& e : client.read_all(GlobalSeq(1))) handle(e);
//
// The first page is fetched when the read is made (so a missing stream or a bad request throws
// right there); each following page is requested as soon as the previous one arrives, while the
// application works through it. So at most two pages are held, whatever the length of the read.
// Fetching a page may throw the exceptions of even/client/errors.h from begin(), operator++ or
// next(). A page request that got no answer (e.g. the reader restarted) is resent with the same
// position, so a read continues across reader restarts and delivers every event exactly once.
//
// Not thread-safe: one thread iterates a stream. An EventStream must not outlive the Client that
// made it. Move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <iterator>
#include <limits>
#include <memory>
#include <vector>

#include "even/client/events.h"

namespace even::client {

// Read a stream backward from its last event: read_stream(s, kStreamEnd, Direction::backward).
inline constexpr StreamSeq kStreamEnd{std::numeric_limits<std::int64_t>::max()};

// One page of a read, as the reader sent it.
struct ReadPage {
  std::vector<RecordedEvent> events;
  bool end = false;           // nothing more was stored after this page when it was read
  StreamSeq next_stream_seq;  // stream reads: where the following page starts
  GlobalSeq next_global_seq;  // read-all: where the following page starts (filters may skip holes)
  GlobalSeq head;             // read-all pages with end = true: the store's head position
};

// Where an EventStream gets its pages (implemented by the client for each kind of read).
class PageSource {
 public:
  virtual ~PageSource() = default;
  // Requests the page that follows `previous` (the first page when null), at most `max_count`
  // events. The future yields the page or throws as the read would.
  virtual std::future<ReadPage> fetch(const ReadPage* previous, std::size_t max_count) = 0;
};

class EventStream {
 public:
  // An input iterator over the events; equal to end() after the last one.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = RecordedEvent;
    using difference_type = std::ptrdiff_t;
    using pointer = const RecordedEvent*;
    using reference = const RecordedEvent&;

    iterator() = default;
    reference operator*() const { return *current_; }
    pointer operator->() const { return current_; }
    iterator& operator++() {
      current_ = stream_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return current_ == nullptr; }

   private:
    friend class EventStream;
    iterator(EventStream* s, const RecordedEvent* e) : stream_(s), current_(e) {}
    EventStream* stream_ = nullptr;
    const RecordedEvent* current_ = nullptr;
  };

  EventStream() = default;  // an empty stream
  // Fetches the first page now (throws as the read would); delivers at most `max_count` events.
  EventStream(std::unique_ptr<PageSource> source, std::size_t max_count);
  EventStream(EventStream&&) noexcept = default;
  EventStream& operator=(EventStream&&) noexcept = default;

  // Starts the iteration; call once (an input range is consumed as it goes).
  iterator begin() { return iterator(this, next()); }
  std::default_sentinel_t end() const { return {}; }

  // The next event, or nullptr after the last. The pointer stays valid until the next call.
  const RecordedEvent* next();

  // Every remaining event in a vector (for short reads and tests).
  std::vector<RecordedEvent> to_vector();

  // The last page received: where the read stands (next_global_seq / next_stream_seq) and the
  // store's head when the read reached its end.
  const ReadPage& last_page() const { return page_; }

 private:
  void prefetch();

  std::unique_ptr<PageSource> source_;
  ReadPage page_;
  std::size_t index_ = 0;        // next event of page_ to deliver
  std::size_t remaining_ = 0;    // events still to deliver, those of page_ included
  std::future<ReadPage> pending_;
};

}  // namespace even::client
