#include "even/common/wire.h"

#include <capnp/any.h>
#include <kj/io.h>

#include <cstdint>
#include <cstring>

namespace even::wire {

zmq::message_t encode(capnp::MessageBuilder& builder) {
  auto segments = builder.getSegmentsForOutput();
  std::size_t words = capnp::computeSerializedSizeInWords(segments);
  zmq::message_t frame(words * sizeof(capnp::word));
  kj::ArrayOutputStream out(kj::arrayPtr(static_cast<kj::byte*>(frame.data()), frame.size()));
  capnp::writeMessage(out, segments);
  return frame;
}

std::variant<Decoded, DecodeError> decode_any(zmq::message_t&& frame, const Limits& limits) {
  const std::size_t size = frame.size();
  if (size > limits.max_message_bytes) {
    return DecodeError{schema::ErrorCode::TOO_LARGE,
                       "message is " + std::to_string(size) + " bytes, the limit is " +
                           std::to_string(limits.max_message_bytes)};
  }
  if (size == 0 || size % sizeof(capnp::word) != 0) {
    return DecodeError{schema::ErrorCode::MALFORMED,
                       "malformed message: " + std::to_string(size) +
                           " bytes is not a whole number of 8-byte words"};
  }
  Decoded d;
  d.size_ = size;
  d.frame_ = std::make_unique<zmq::message_t>(std::move(frame));
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<std::uintptr_t>(d.frame_->data()) % alignof(capnp::word) == 0) {
    words = kj::arrayPtr(static_cast<const capnp::word*>(d.frame_->data()), size / sizeof(capnp::word));
  } else {
    // ZeroMQ gives no alignment guarantee; Cap'n Proto needs 8-byte-aligned words.
    d.copy_ = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
    std::memcpy(d.copy_.begin(), d.frame_->data(), size);
    words = d.copy_.asPtr();
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords = size / sizeof(capnp::word) * 2 + 64;  // each word read once, with slack
  options.nestingLimit = limits.nesting_limit;
  d.words_ = words;
  d.options_ = options;
  try {
    d.reader_ = std::make_unique<capnp::FlatArrayMessageReader>(words, options);
  } catch (const kj::Exception& e) {
    return DecodeError{schema::ErrorCode::MALFORMED,
                       std::string("malformed message: ") + e.getDescription().cStr()};
  }
  return d;
}

void Decoded::reset_reader() { reader_ = std::make_unique<capnp::FlatArrayMessageReader>(words_, options_); }

namespace {
// Text may not hold a NUL before its terminator (see wire.h): reading the field checked the
// terminator, this checks the bytes.
void check_text(capnp::Text::Reader t, const char* field) {
  if (const void* nul = std::memchr(t.begin(), '\0', t.size())) {
    const auto offset = static_cast<const char*>(nul) - t.begin();
    kj::throwFatalException(KJ_EXCEPTION(FAILED, kj::str("text field '", field, "' holds a NUL byte at offset ",
                                                         offset, " (text must not contain NUL)")));
  }
}

// A list of structs must not be a list of elements smaller than a word: Cap'n Proto reads a list
// of empty structs, or a list of bytes, as a list of structs with that many elements, so a frame
// of 16 MiB would hold 16 million events (GiBs once decoded), a frame of a few bytes thousands.
// Every struct of our schemas has fields, so any encoder writes each element in a word or more;
// this bounds a list's length by the frame's size in words. (All elements of a list have one
// size: checking the first is enough.)
void check_struct_list_elements(capnp::AnyStruct::Reader first, unsigned count, const char* field) {
  const std::size_t bytes = first.getDataSection().size() + first.getPointerSection().size() * sizeof(capnp::word);
  if (bytes < sizeof(capnp::word))
    kj::throwFatalException(KJ_EXCEPTION(FAILED, kj::str("list '", field, "' holds ", count, " elements of ", bytes,
                                                         " bytes (a struct takes at least a word)")));
}

template <typename T>
void check_struct_list(typename capnp::List<T>::Reader list, const char* field) {
  if (list.size() > 0) check_struct_list_elements(capnp::AnyStruct::Reader(list[0]), list.size(), field);
}

void validate_value(const capnp::DynamicValue::Reader& v, const char* field);

void validate_list(capnp::DynamicList::Reader list, const char* field) {
  if (list.size() > 0 && list.getSchema().whichElementType() == capnp::schema::Type::STRUCT)
    check_struct_list_elements(list[0].as<capnp::DynamicStruct>().as<capnp::AnyStruct>(), list.size(), field);
  for (auto element : list) validate_value(element, field);
}

void validate_value(const capnp::DynamicValue::Reader& v, const char* field) {
  switch (v.getType()) {
    case capnp::DynamicValue::TEXT: check_text(v.as<capnp::Text>(), field); break;
    case capnp::DynamicValue::DATA: (void)v.as<capnp::Data>(); break;
    case capnp::DynamicValue::LIST: validate_list(v.as<capnp::DynamicList>(), field); break;
    case capnp::DynamicValue::STRUCT: validate_deep(v.as<capnp::DynamicStruct>()); break;
    default: break;  // scalars and enums are always readable
  }
}
}  // namespace

void validate_deep(capnp::DynamicStruct::Reader root) {
  auto schema = root.getSchema();
  for (auto field : schema.getNonUnionFields()) {
    if (field.getType().isStruct() || field.getProto().isGroup() || root.has(field))
      validate_value(root.get(field), field.getProto().getName().cStr());
  }
  if (schema.getUnionFields().size() > 0) {
    KJ_IF_MAYBE(active, root.which()) {
      validate_value(root.get(*active), active->getProto().getName().cStr());
    }
  }
}

namespace {
void read_all_fields(schema::EventData::Reader e) {
  (void)e.getEventId();
  check_text(e.getType(), "type");
  (void)e.getMetadata();
  (void)e.getPayload();
}
void read_all_fields(schema::RecordedEvent::Reader e) {
  (void)e.getEventId();
  check_text(e.getStream(), "stream");
  check_text(e.getType(), "type");
  (void)e.getMetadata();
  (void)e.getPayload();
}
void read_all_fields(capnp::List<capnp::Text>::Reader list, const char* field) {
  for (auto t : list) check_text(t, field);
}
}  // namespace

// Unknown union members (from a newer peer) carry nothing these can read, as in validate_deep.
void validate(schema::WriterRequest::Reader r) {
  switch (r.which()) {
    case schema::WriterRequest::APPEND: break;
    case schema::WriterRequest::DELETE_STREAM: {
      auto d = r.getDeleteStream();
      check_text(d.getStream(), "stream");
      (void)d.getExpected();
      return;
    }
    case schema::WriterRequest::TRUNCATE_STREAM: {
      auto t = r.getTruncateStream();
      check_text(t.getStream(), "stream");
      (void)t.getExpected();
      return;
    }
    case schema::WriterRequest::SET_STREAM_METADATA: {
      auto m = r.getSetStreamMetadata();
      check_text(m.getStream(), "stream");
      (void)m.getExpected();
      return;
    }
    default: return;  // ping: no pointers
  }
  auto a = r.getAppend();
  check_text(a.getStream(), "stream");
  (void)a.getExpected();
  auto events = a.getEvents();  // read once: each read of a list counts against the traversal limit
  check_struct_list<schema::EventData>(events, "events");
  for (auto e : events) read_all_fields(e);
}

void validate(schema::WriterReply::Reader r) {
  if (r.isError()) check_text(r.getError().getMessage(), "message");
  else if (r.isAppend()) (void)r.getAppend();
  else if (r.isLifecycle()) (void)r.getLifecycle();
}

void validate(schema::ReaderRequest::Reader r) {
  switch (r.which()) {
    case schema::ReaderRequest::READ_STREAM: check_text(r.getReadStream().getStream(), "stream"); break;
    case schema::ReaderRequest::READ_ALL: {
      auto a = r.getReadAll();
      read_all_fields(a.getCategories(), "categories");
      read_all_fields(a.getEventTypes(), "eventTypes");
      break;
    }
    case schema::ReaderRequest::READ_PROJECTION: check_text(r.getReadProjection().getName(), "name"); break;
    case schema::ReaderRequest::STREAM_INFO: check_text(r.getStreamInfo().getStream(), "stream"); break;
    default: break;
  }
}

void validate(schema::ReaderReply::Reader r) {
  switch (r.which()) {
    case schema::ReaderReply::ERROR: check_text(r.getError().getMessage(), "message"); break;
    case schema::ReaderReply::PAGE: {
      auto page = r.getPage();
      auto events = page.getEvents();
      check_struct_list<schema::RecordedEvent>(events, "events");
      for (auto e : events) read_all_fields(e);
      (void)page.getProjectionSeqs();
      break;
    }
    case schema::ReaderReply::STREAM_INFO: (void)r.getStreamInfo(); break;
    default: break;
  }
}

void validate(schema::CommittedBatch::Reader r) {
  auto events = r.getEvents();
  check_struct_list<schema::RecordedEvent>(events, "events");
  for (auto e : events) read_all_fields(e);
}

void validate(schema::FeedMessage::Reader r) {
  if (r.isEvent()) {
    read_all_fields(r.getEvent().getEvent());
  } else if (r.isHeartbeat()) {
    auto heads = r.getHeartbeat().getCategoryHeads();
    check_struct_list<schema::CategoryHead>(heads, "categoryHeads");
    for (auto h : heads) check_text(h.getCategory(), "category");
  }
}

namespace {
kj::ArrayPtr<const kj::byte> as_bytes(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}
void assign(std::string& to, capnp::Data::Reader from) {
  to.assign(reinterpret_cast<const char*>(from.begin()), from.size());
}
EventId event_id_of(capnp::Data::Reader id) { return EventId::from_bytes(id.begin(), id.size()).value_or(EventId()); }
}  // namespace

std::optional<PayloadFormat> payload_format(schema::PayloadFormat f) {
  switch (f) {
    case schema::PayloadFormat::BINARY: return PayloadFormat::binary;
    case schema::PayloadFormat::JSON: return PayloadFormat::json;
  }
  return std::nullopt;
}

schema::PayloadFormat to_schema(PayloadFormat f) {
  return f == PayloadFormat::json ? schema::PayloadFormat::JSON : schema::PayloadFormat::BINARY;
}

void encode(const NewEvent& e, schema::EventData::Builder out) {
  out.setEventId(kj::arrayPtr(e.id.data(), EventId::kSize));
  out.setType(as_text(e.type));
  out.setMetadata(as_bytes(e.metadata));
  out.setPayload(as_bytes(e.payload));
  out.setPayloadFormat(to_schema(e.format));
}

void encode(const RecordedEvent& e, schema::RecordedEvent::Builder out) {
  out.setGlobalSeq(e.global_seq.value());
  out.setEventId(kj::arrayPtr(e.id.data(), EventId::kSize));
  out.setStream(as_text(e.stream));
  out.setStreamSeq(e.stream_seq.value());
  out.setType(as_text(e.type));
  out.setCreatedAtUs(e.created_at_us);
  out.setMetadata(as_bytes(e.metadata));
  out.setPayload(as_bytes(e.payload));
  out.setPayloadFormat(to_schema(e.format));
}

NewEvent decode(schema::EventData::Reader in) {
  // Every member given: a default NewEvent would draw a random id only to overwrite it.
  NewEvent e{event_id_of(in.getEventId()), text_string(in.getType()), {}, {},
             payload_format(in.getPayloadFormat()).value_or(PayloadFormat::binary)};
  assign(e.payload, in.getPayload());
  assign(e.metadata, in.getMetadata());
  return e;
}

void decode(schema::RecordedEvent::Reader in, RecordedEvent& out) {
  out.global_seq = GlobalSeq(in.getGlobalSeq());
  out.id = event_id_of(in.getEventId());
  auto stream = in.getStream();
  out.stream.assign(stream.begin(), stream.size());
  out.stream_seq = StreamSeq(in.getStreamSeq());
  auto type = in.getType();
  out.type.assign(type.begin(), type.size());
  out.created_at_us = in.getCreatedAtUs();
  assign(out.metadata, in.getMetadata());
  assign(out.payload, in.getPayload());
  out.format = payload_format(in.getPayloadFormat()).value_or(PayloadFormat::binary);
}

RecordedEvent decode(schema::RecordedEvent::Reader in) {
  RecordedEvent e;
  decode(in, e);
  return e;
}

bool send_with_topic(zmq::socket_t& socket, std::string_view topic, capnp::MessageBuilder& builder) {
  auto frame = encode(builder);
  zmq::message_t t(topic.data(), topic.size());
  if (!socket.send(t, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
  // Once the first frame is queued, ZeroMQ queues the rest of the message too.
  return socket.send(frame, zmq::send_flags::dontwait).has_value();
}

std::optional<TopicMessage> recv_with_topic(zmq::socket_t& socket, zmq::recv_flags flags) {
  zmq::message_t topic;
  if (!socket.recv(topic, flags)) return std::nullopt;
  TopicMessage out{std::string(static_cast<const char*>(topic.data()), topic.size()), zmq::message_t()};
  if (!topic.more()) return out;
  (void)socket.recv(out.message, zmq::recv_flags::none);  // the rest of a multipart message is already here
  if (out.message.more()) {
    // More than two frames: not a feed message. Drop the rest; the empty message fails decode().
    zmq::message_t drop;
    do {
      (void)socket.recv(drop, zmq::recv_flags::none);
    } while (drop.more());
    out.message = zmq::message_t();
  }
  return out;
}

std::string to_string(schema::ErrorCode code) {
  switch (code) {
    case schema::ErrorCode::NONE: return "none";
    case schema::ErrorCode::MALFORMED: return "malformed";
    case schema::ErrorCode::TOO_LARGE: return "tooLarge";
    case schema::ErrorCode::UNSUPPORTED_VERSION: return "unsupportedVersion";
    case schema::ErrorCode::INVALID_STREAM: return "invalidStream";
    case schema::ErrorCode::INVALID_EVENT: return "invalidEvent";
    case schema::ErrorCode::WRONG_EXPECTED_VERSION: return "wrongExpectedVersion";
    case schema::ErrorCode::DUPLICATE_EVENT: return "duplicateEvent";
    case schema::ErrorCode::BUSY: return "busy";
    case schema::ErrorCode::UNAVAILABLE: return "unavailable";
    case schema::ErrorCode::NOT_FOUND: return "notFound";
    case schema::ErrorCode::BAD_RANGE: return "badRange";
    case schema::ErrorCode::INTERNAL: return "internal";
  }
  return "code " + std::to_string(static_cast<int>(code));
}

}  // namespace even::wire
