// Client reads: read_stream, read_all, stream_version, head over the reader's page protocol
// (schemas/reader.capnp), and EventStream's lazy paging.
#include <capnp/message.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <type_traits>

#include "client_impl.h"
#include "even/client/client.h"
#include "even/client/event_stream.h"
#include "even/schemas/reader.capnp.h"

namespace even::client {

ReplyInfo classify_reader_reply(wire::Decoded& d) {
  auto r = d.root<schema::ReaderReply>();
  ReplyInfo info{r.getRequestId(), false, {}};
  // "busy" is retried until the call's timeout; "unavailable" (the store is down) is reported at
  // once as Unavailable, so that the caller decides.
  if (r.isError()) info.retry = r.getError().getCode() == schema::ErrorCode::BUSY;
  if (info.retry) info.message = "busy: " + wire::text_string(r.getError().getMessage());  // the reader's reason
  return info;
}

namespace {

std::uint32_t wire_count(std::size_t max_count) {
  return static_cast<std::uint32_t>(std::min<std::size_t>(max_count, std::numeric_limits<std::uint32_t>::max()));
}

schema::ReaderReply::Reader checked(wire::Decoded& d) {
  auto r = d.root<schema::ReaderReply>();
  if (r.isError()) throw_error(r.getError().getCode(), wire::text_string(r.getError().getMessage()));
  return r;
}

// The reply as a page: throws the reader's error, or for an unexpected reply kind.
schema::Page::Reader page_of(wire::Decoded& d) {
  auto r = checked(d);
  if (!r.isPage()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from the reader");
  return r.getPage();
}

// Builds a ReaderRequest with a fresh id; `fill` sets the request's kind.
template <typename Fill>
std::pair<std::uint64_t, zmq::message_t> make_request(RpcChannel& channel, Fill fill) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::ReaderRequest>();
  const auto id = channel.next_request_id();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(id);
  req.setMinGlobalSeq(channel.min_global_seq());
  fill(req);
  return {id, wire::encode(msg)};
}

std::pair<std::uint64_t, zmq::message_t> stream_request(RpcChannel& channel, const std::string& stream,
                                                        StreamSeq from, Direction dir, std::size_t max_count) {
  return make_request(channel, [&](schema::ReaderRequest::Builder req) {
    auto r = req.initReadStream();
    r.setStream(wire::as_text(stream));
    r.setFrom(from.value());
    r.setDirection(dir == Direction::forward ? schema::Direction::FORWARD : schema::Direction::BACKWARD);
    r.setMaxCount(wire_count(max_count));
  });
}

std::pair<std::uint64_t, zmq::message_t> all_request(RpcChannel& channel, GlobalSeq from, const Filter& filter,
                                                     std::size_t max_count) {
  return make_request(channel, [&](schema::ReaderRequest::Builder req) {
    auto r = req.initReadAll();
    r.setFrom(from.value());
    auto cats = r.initCategories(static_cast<unsigned>(filter.categories.size()));
    for (unsigned i = 0; i < filter.categories.size(); ++i) cats.set(i, wire::as_text(filter.categories[i]));
    auto types = r.initEventTypes(static_cast<unsigned>(filter.event_types.size()));
    for (unsigned i = 0; i < filter.event_types.size(); ++i) types.set(i, wire::as_text(filter.event_types[i]));
    r.setMaxCount(wire_count(max_count));
  });
}

}  // namespace

ReadPage to_page(wire::Decoded& d) {
  auto p = page_of(d);
  ReadPage page;
  auto events = p.getEvents();
  page.events.resize(events.size());
  for (unsigned i = 0; i < events.size(); ++i) wire::decode(events[i], page.events[i]);
  page.end = p.getEnd();
  page.next_stream_seq = StreamSeq(p.getNextStreamSeq());
  page.next_global_seq = GlobalSeq(p.getNextGlobalSeq());
  page.head = GlobalSeq(p.getHead());
  return page;
}

std::optional<StreamSeq> to_stream_version(wire::Decoded& d) {
  auto r = checked(d);
  if (!r.isStreamInfo()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from the reader");
  auto si = r.getStreamInfo();
  return si.getExists() ? std::optional<StreamSeq>(StreamSeq(si.getVersion())) : std::nullopt;
}

GlobalSeq to_head(wire::Decoded& d) {
  auto r = checked(d);
  if (!r.isHead()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from the reader");
  return GlobalSeq(r.getHead());
}

// --- EventStream ---------------------------------------------------------------------------

struct EventStream::State {
  enum class Kind { stream, all };
  State(RpcChannel& c, Kind k, std::size_t max) : channel(c), kind(k), remaining(max) {}

  // Requests the page of this read that starts at `from`, for at most `max` events.
  template <typename Position>
  std::future<wire::Decoded> fetch(Position from, std::size_t max) {
    std::pair<std::uint64_t, zmq::message_t> req;
    if constexpr (std::is_same_v<Position, StreamSeq>) req = stream_request(channel, stream, from, dir, max);
    else req = all_request(channel, from, filter, max);
    return channel.call_future<wire::Decoded>(req.first, std::move(req.second), [](wire::Decoded& d) {
      (void)page_of(d);  // throws the reader's error
      return std::move(d);
    });
  }

  void request_first() {
    if (kind == Kind::stream) {
      pending = fetch(stream_from, remaining);
    } else {
      pending = fetch(all_from, remaining);
      pending_from = all_from;
    }
  }

  // Waits for the requested page, makes it current and requests the one after it.
  //
  // Read-all keeps two requests out: the next page, and a guess at the one after it (starting
  // where the next page will end if it spans as many positions as this one did: exact for a
  // dense unfiltered read). The guess is used when it starts at or before where the next page
  // really ended (events before that are skipped), and dropped otherwise. So the reader's workers
  // build two pages at once and the round trip between pages is hidden.
  void take_page() {
    current.emplace(pending.get());  // throws what the page request threw
    page = page_of(*current);
    if (kind == Kind::all && page.getNextGlobalSeq() < skip_below.value()) {
      // A guessed page that ended before where the last page did (the worker that read it cut
      // its page shorter): nothing in it is new, and continuing from its end would go back.
      ahead = {};
      pending = fetch(skip_below, remaining);
      pending_from = skip_below;
      skip_below = GlobalSeq(0);
      take_page();
      return;
    }
    events = page.getEvents();
    index = 0;
    while (index < events.size() && events[index].getGlobalSeq() < skip_below.value()) ++index;
    end = page.getEnd();
    stream_from = StreamSeq(page.getNextStreamSeq());
    all_from = GlobalSeq(page.getNextGlobalSeq());
    if (end) head = GlobalSeq(page.getHead());
    const std::size_t in_page = events.size() - index;
    if (end || remaining <= in_page) {
      ahead = {};
      return;
    }
    const std::size_t want = remaining - in_page;
    if (kind == Kind::stream) {
      pending = fetch(stream_from, want);
      return;
    }
    if (ahead.valid() && ahead_from <= all_from) {
      pending = std::move(ahead);
      pending_from = ahead_from;
      skip_below = all_from;
    } else {
      ahead = {};
      pending = fetch(all_from, want);
      pending_from = all_from;
      skip_below = GlobalSeq(0);
    }
    if (events.size() > 0) {
      const auto span = events[events.size() - 1].getGlobalSeq() - events[0].getGlobalSeq() + 1;
      ahead_from = GlobalSeq(pending_from.value() + span);
      ahead = fetch(ahead_from, want);
    }
  }

  RpcChannel& channel;
  const Kind kind;
  std::string stream;  // Kind::stream
  Direction dir = Direction::forward;
  Filter filter;       // Kind::all
  StreamSeq stream_from;  // where the page after the current one starts
  GlobalSeq all_from;
  std::size_t remaining;  // events still to deliver

  std::optional<wire::Decoded> current;  // the page being delivered
  schema::Page::Reader page;
  capnp::List<schema::RecordedEvent>::Reader events;
  unsigned index = 0;
  std::future<wire::Decoded> pending;  // the next page, when requested
  GlobalSeq pending_from;              // read-all: where it starts
  GlobalSeq skip_below;                // read-all: its events before this were delivered already
  std::future<wire::Decoded> ahead;    // read-all: the guessed page after it
  GlobalSeq ahead_from;
  bool end = false;
  GlobalSeq head;
  RecordedEvent event;  // the event last delivered (its buffers are reused)
};

EventStream::EventStream() = default;
EventStream::~EventStream() = default;
EventStream::EventStream(EventStream&&) noexcept = default;
EventStream& EventStream::operator=(EventStream&&) noexcept = default;
EventStream::EventStream(std::unique_ptr<State> state) : state_(std::move(state)) {
  if (state_->remaining == 0) return;
  state_->request_first();
  state_->take_page();
}

const RecordedEvent* EventStream::next() {
  if (!state_) return nullptr;
  auto& s = *state_;
  for (;;) {
    if (s.remaining == 0) return nullptr;
    if (s.current && s.index < s.events.size()) {
      wire::decode(s.events[s.index++], s.event);  // into the same event: its buffers are reused
      --s.remaining;
      return &s.event;
    }
    if (!s.pending.valid()) return nullptr;
    s.take_page();
  }
}

bool EventStream::reached_end() const { return state_ && state_->end; }
GlobalSeq EventStream::head() const { return state_ ? state_->head : GlobalSeq(0); }

// --- Client --------------------------------------------------------------------------------

std::future<ReadPage> Client::read_stream_page_async(const std::string& stream, StreamSeq from, Direction dir,
                                                     std::size_t max_count) {
  auto [id, frame] = stream_request(impl_->reader, stream, from, dir, max_count);
  return impl_->reader.call_future<ReadPage>(id, std::move(frame), to_page);
}

std::future<ReadPage> Client::read_all_page_async(GlobalSeq from, const Filter& filter, std::size_t max_count) {
  auto [id, frame] = all_request(impl_->reader, from, filter, max_count);
  return impl_->reader.call_future<ReadPage>(id, std::move(frame), to_page);
}

EventStream Client::read_stream(const std::string& stream, StreamSeq from, Direction dir, std::size_t max_count) {
  auto s = std::make_unique<EventStream::State>(impl_->reader, EventStream::State::Kind::stream, max_count);
  s->stream = stream;
  s->dir = dir;
  s->stream_from = from;
  return EventStream(std::move(s));
}

EventStream Client::read_all(GlobalSeq from, const Filter& filter, std::size_t max_count) {
  auto s = std::make_unique<EventStream::State>(impl_->reader, EventStream::State::Kind::all, max_count);
  s->filter = filter;
  s->all_from = from;
  return EventStream(std::move(s));
}

std::future<std::optional<StreamSeq>> Client::stream_version_async(const std::string& stream) {
  auto [id, frame] = make_request(impl_->reader, [&](schema::ReaderRequest::Builder req) {
    req.initStreamInfo().setStream(wire::as_text(stream));
  });
  return impl_->reader.call_future<std::optional<StreamSeq>>(id, std::move(frame), to_stream_version);
}

std::optional<StreamSeq> Client::stream_version(const std::string& stream) { return stream_version_async(stream).get(); }

StreamState Client::stream_info(const std::string& stream) {
  auto [id, frame] = make_request(impl_->reader, [&](schema::ReaderRequest::Builder req) {
    req.initStreamInfo().setStream(wire::as_text(stream));
  });
  return impl_->reader
      .call_future<StreamState>(id, std::move(frame),
                                [](wire::Decoded& d) {
                                  auto r = checked(d);
                                  if (!r.isStreamInfo())
                                    throw Unavailable(ErrorCode::internal, "unexpected reply kind from the reader");
                                  StreamState s = stream_state_of(r.getStreamInfo());
                                  s.exists = r.getStreamInfo().getExists();  // as the reader decided it
                                  return s;
                                })
      .get();
}

std::future<GlobalSeq> Client::head_async() {
  auto [id, frame] = make_request(impl_->reader, [](schema::ReaderRequest::Builder req) { req.setHead(); });
  return impl_->reader.call_future<GlobalSeq>(id, std::move(frame), to_head);
}

GlobalSeq Client::head() { return head_async().get(); }

}  // namespace even::client
