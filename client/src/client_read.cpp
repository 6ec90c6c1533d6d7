// Client reads: read_stream, read_all, stream_version, head over the reader's page protocol
// (schemas/reader.capnp), and EventStream's lazy paging.
#include <capnp/message.h>

#include <algorithm>
#include <limits>

#include "client_impl.h"
#include "even/client/client.h"
#include "even/client/event_stream.h"
#include "even/schemas/reader.capnp.h"

namespace even::client {

ReplyInfo classify_reader_reply(wire::Decoded& d) {
  auto r = d.root<schema::ReaderReply>();
  ReplyInfo info{r.getRequestId(), false};
  // "busy" is retried until the call's timeout; "unavailable" (the store is down) is reported at
  // once as Unavailable, so that the caller decides.
  if (r.isError()) info.retry = r.getError().getCode() == schema::ErrorCode::BUSY;
  return info;
}

namespace {

std::uint32_t wire_count(std::size_t max_count) {
  return static_cast<std::uint32_t>(std::min<std::size_t>(max_count, std::numeric_limits<std::uint32_t>::max()));
}

schema::ReaderReply::Reader checked(wire::Decoded& d) {
  auto r = d.root<schema::ReaderReply>();
  if (r.isError()) throw_error(r.getError().getCode(), r.getError().getMessage());
  return r;
}

std::string to_string(capnp::Data::Reader d) { return std::string(reinterpret_cast<const char*>(d.begin()), d.size()); }

ReadPage to_page(wire::Decoded& d) {
  auto r = checked(d);
  if (!r.isPage()) throw Unavailable(schema::ErrorCode::INTERNAL, "unexpected reply kind from the reader");
  auto p = r.getPage();
  ReadPage page;
  auto events = p.getEvents();
  page.events.resize(events.size());
  for (unsigned i = 0; i < events.size(); ++i) {
    auto in = events[i];
    auto& e = page.events[i];
    e.global_seq = GlobalSeq(in.getGlobalSeq());
    auto id = in.getEventId();
    if (auto parsed = EventId::from_bytes(id.begin(), id.size())) e.id = *parsed;
    auto stream = in.getStream();
    e.stream.assign(stream.begin(), stream.size());
    e.stream_seq = StreamSeq(in.getStreamSeq());
    auto type = in.getType();
    e.type.assign(type.begin(), type.size());
    e.created_at_us = in.getCreatedAtUs();
    e.metadata = to_string(in.getMetadata());
    e.payload = to_string(in.getPayload());
    e.format = in.getPayloadFormat() == schema::PayloadFormat::JSON ? PayloadFormat::json : PayloadFormat::binary;
  }
  page.end = p.getEnd();
  page.next_stream_seq = StreamSeq(p.getNextStreamSeq());
  page.next_global_seq = GlobalSeq(p.getNextGlobalSeq());
  page.head = GlobalSeq(p.getHead());
  return page;
}

// Builds a ReaderRequest with a fresh id; `fill` sets the request's kind.
template <typename Fill>
std::pair<std::uint64_t, zmq::message_t> make_request(RpcChannel& channel, Fill fill) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::ReaderRequest>();
  const auto id = channel.next_request_id();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(id);
  fill(req);
  return {id, wire::encode(msg)};
}

std::future<ReadPage> request_stream_page(RpcChannel& channel, const std::string& stream, StreamSeq from,
                                          Direction dir, std::size_t max_count) {
  auto [id, frame] = make_request(channel, [&](schema::ReaderRequest::Builder req) {
    auto r = req.initReadStream();
    r.setStream(stream);
    r.setFrom(from.value());
    r.setDirection(dir == Direction::forward ? schema::Direction::FORWARD : schema::Direction::BACKWARD);
    r.setMaxCount(wire_count(max_count));
  });
  return channel.call_future<ReadPage>(id, std::move(frame), to_page);
}

std::future<ReadPage> request_all_page(RpcChannel& channel, GlobalSeq from, const Filter& filter,
                                       std::size_t max_count) {
  auto [id, frame] = make_request(channel, [&](schema::ReaderRequest::Builder req) {
    auto r = req.initReadAll();
    r.setFrom(from.value());
    auto cats = r.initCategories(static_cast<unsigned>(filter.categories.size()));
    for (unsigned i = 0; i < filter.categories.size(); ++i) cats.set(i, filter.categories[i]);
    auto types = r.initEventTypes(static_cast<unsigned>(filter.event_types.size()));
    for (unsigned i = 0; i < filter.event_types.size(); ++i) types.set(i, filter.event_types[i]);
    r.setMaxCount(wire_count(max_count));
  });
  return channel.call_future<ReadPage>(id, std::move(frame), to_page);
}

class StreamPages : public PageSource {
 public:
  StreamPages(RpcChannel& channel, std::string stream, StreamSeq from, Direction dir)
      : channel_(channel), stream_(std::move(stream)), from_(from), dir_(dir) {}
  std::future<ReadPage> fetch(const ReadPage* previous, std::size_t max_count) override {
    return request_stream_page(channel_, stream_, previous ? previous->next_stream_seq : from_, dir_, max_count);
  }

 private:
  RpcChannel& channel_;
  std::string stream_;
  StreamSeq from_;
  Direction dir_;
};

class AllPages : public PageSource {
 public:
  AllPages(RpcChannel& channel, GlobalSeq from, Filter filter)
      : channel_(channel), from_(from), filter_(std::move(filter)) {}
  std::future<ReadPage> fetch(const ReadPage* previous, std::size_t max_count) override {
    return request_all_page(channel_, previous ? previous->next_global_seq : from_, filter_, max_count);
  }

 private:
  RpcChannel& channel_;
  GlobalSeq from_;
  Filter filter_;
};

}  // namespace

// --- EventStream ---------------------------------------------------------------------------

EventStream::EventStream(std::unique_ptr<PageSource> source, std::size_t max_count)
    : source_(std::move(source)), remaining_(max_count) {
  if (remaining_ == 0) return;
  page_ = source_->fetch(nullptr, remaining_).get();
  prefetch();
}

void EventStream::prefetch() {
  if (page_.end || !source_) return;
  const std::size_t in_page = page_.events.size() - index_;
  if (remaining_ <= in_page) return;
  pending_ = source_->fetch(&page_, remaining_ - in_page);
}

const RecordedEvent* EventStream::next() {
  for (;;) {
    if (remaining_ == 0) return nullptr;
    if (index_ < page_.events.size()) {
      --remaining_;
      return &page_.events[index_++];
    }
    if (!pending_.valid()) return nullptr;
    page_ = pending_.get();  // leaves pending_ invalid; throws what the page request threw
    index_ = 0;
    prefetch();
  }
}

std::vector<RecordedEvent> EventStream::to_vector() {
  std::vector<RecordedEvent> out;
  while (const auto* e = next()) out.push_back(*e);
  return out;
}

// --- Client --------------------------------------------------------------------------------

std::future<ReadPage> Client::read_stream_page_async(const std::string& stream, StreamSeq from, Direction dir,
                                                     std::size_t max_count) {
  return request_stream_page(impl_->reader, stream, from, dir, max_count);
}

std::future<ReadPage> Client::read_all_page_async(GlobalSeq from, const Filter& filter, std::size_t max_count) {
  return request_all_page(impl_->reader, from, filter, max_count);
}

EventStream Client::read_stream(const std::string& stream, StreamSeq from, Direction dir, std::size_t max_count) {
  return EventStream(std::make_unique<StreamPages>(impl_->reader, stream, from, dir), max_count);
}

EventStream Client::read_all(GlobalSeq from, const Filter& filter, std::size_t max_count) {
  return EventStream(std::make_unique<AllPages>(impl_->reader, from, filter), max_count);
}

std::future<std::optional<StreamSeq>> Client::stream_version_async(const std::string& stream) {
  auto [id, frame] = make_request(impl_->reader, [&](schema::ReaderRequest::Builder req) {
    req.initStreamInfo().setStream(stream);
  });
  return impl_->reader.call_future<std::optional<StreamSeq>>(id, std::move(frame), [](wire::Decoded& d) {
    auto r = checked(d);
    if (!r.isStreamInfo()) throw Unavailable(schema::ErrorCode::INTERNAL, "unexpected reply kind from the reader");
    auto si = r.getStreamInfo();
    return si.getExists() ? std::optional<StreamSeq>(StreamSeq(si.getVersion())) : std::nullopt;
  });
}

std::optional<StreamSeq> Client::stream_version(const std::string& stream) { return stream_version_async(stream).get(); }

std::future<GlobalSeq> Client::head_async() {
  auto [id, frame] = make_request(impl_->reader, [](schema::ReaderRequest::Builder req) { req.setHead(); });
  return impl_->reader.call_future<GlobalSeq>(id, std::move(frame), [](wire::Decoded& d) {
    auto r = checked(d);
    if (!r.isHead()) throw Unavailable(schema::ErrorCode::INTERNAL, "unexpected reply kind from the reader");
    return GlobalSeq(r.getHead());
  });
}

GlobalSeq Client::head() { return head_async().get(); }

}  // namespace even::client
