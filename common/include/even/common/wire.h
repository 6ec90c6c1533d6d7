// The one place where Cap'n Proto meets ZeroMQ.
//
// Rules (see schemas/README.md):
//  - one Cap'n Proto message per ZeroMQ frame, flat (unpacked) encoding;
//  - on PUB sockets a topic frame comes first, the message frame second;
//  - a received frame is size-checked, alignment-checked (copied when not 8-byte aligned), decoded
//    with ReaderOptions limits and fully traversed before the caller sees it, so a malformed
//    message is rejected here with a clear error and never half-processed.
#pragma once

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <zmq.hpp>

#include "even/common/event.h"
#include "even/schemas/common.capnp.h"
#include "even/schemas/feed.capnp.h"
#include "even/schemas/reader.capnp.h"
#include "even/schemas/writer.capnp.h"

namespace even::wire {

struct Limits {
  // Largest message accepted. Larger frames get ErrorCode::tooLarge.
  std::size_t max_message_bytes = 16u << 20;
  // Capnp nesting limit; our schemas nest a handful of levels.
  int nesting_limit = 16;
};

struct DecodeError {
  schema::ErrorCode code;
  std::string message;
  std::uint64_t request_id = 0;  // when the message's requestId could still be read, so the reply can name it
};

// Serializes `builder` into one ZeroMQ frame (flat array, no copy beyond the frame itself).
zmq::message_t encode(capnp::MessageBuilder& builder);

// A decoded message: owns the frame it reads from (or an aligned copy of it).
// Move-only; readers obtained from root() must not outlive this object.
class Decoded {
 public:
  template <typename T>
  typename T::Reader root() {
    return reader_->getRoot<T>();
  }
  std::size_t size_bytes() const { return size_; }
  // A fresh reader over the same bytes, with a fresh traversal budget (used after validation).
  void reset_reader();

 private:
  friend std::variant<Decoded, DecodeError> decode_any(zmq::message_t&&, const Limits&);
  // Heap-held so that moving a Decoded never moves the bytes the reader points into
  // (small ZeroMQ messages keep their data inline).
  std::unique_ptr<zmq::message_t> frame_;
  kj::Array<capnp::word> copy_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  kj::ArrayPtr<const capnp::word> words_;
  capnp::ReaderOptions options_;
  std::size_t size_ = 0;
};

// Checks size and alignment and parses the segment table; does not validate the root type.
std::variant<Decoded, DecodeError> decode_any(zmq::message_t&& frame, const Limits& limits);

// Reads only the root struct's requestId field of a frame that failed to decode (too large, or
// broken further in), with a small traversal budget. 0 when even that cannot be read.
template <typename T>
std::uint64_t peek_request_id(const zmq::message_t& frame) {
  try {
    if (frame.size() < 16 || frame.size() % sizeof(capnp::word) != 0) return 0;
    kj::Array<capnp::word> copy;
    const capnp::word* words = static_cast<const capnp::word*>(frame.data());
    if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(capnp::word) != 0) {
      copy = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
      std::memcpy(copy.begin(), frame.data(), frame.size());
      words = copy.begin();
    }
    capnp::ReaderOptions o;
    o.traversalLimitInWords = 64;
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words, frame.size() / sizeof(capnp::word)), o);
    return reader.getRoot<T>().getRequestId();
  } catch (...) {
    return 0;
  }
}

// Text fields. Cap'n Proto's Text guarantees only the NUL after its last byte; the bytes before
// it may hold another NUL, and the generated readers convert to std::string through cStr(), which
// cuts the text at that NUL ("abc\0def" would become "abc"). So text is always taken with its
// length, both ways:
//  - text_view / text_string: every byte of a Text field (validated messages hold no NUL, see
//    below, but a copy never depends on it);
//  - as_text: a std::string as Text with all its bytes (std::string's data() is NUL-terminated,
//    as Text::Reader(ptr, size) requires). `s` must outlive the returned reader.
inline std::string_view text_view(capnp::Text::Reader t) { return {t.begin(), t.size()}; }
inline std::string text_string(capnp::Text::Reader t) { return {t.begin(), t.size()}; }
inline capnp::Text::Reader as_text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

// The event model on the wire (common.capnp): the one encoder and decoder of events, used by the
// client, the writer, the dispatcher and the reader alike. Text goes with its length (above);
// bytes are copied once, straight between the message and the event's strings.
void encode(const NewEvent& e, schema::EventData::Builder out);
void encode(const RecordedEvent& e, schema::RecordedEvent::Builder out);
// `in` must be validated (decode<T> did): a 16-byte id (another size gives the zero id) and a
// known payload format (an unknown one gives binary; the writer refuses it before, see
// payload_format()).
NewEvent decode(schema::EventData::Reader in);
// Into `out`, reusing the capacity of its strings (a read that delivers one event at a time keeps
// one RecordedEvent). An unknown payload format (from a newer peer) is delivered as binary.
void decode(schema::RecordedEvent::Reader in, RecordedEvent& out);
RecordedEvent decode(schema::RecordedEvent::Reader in);
// The event model's format of a wire value; nullopt for a value this build does not know.
std::optional<PayloadFormat> payload_format(schema::PayloadFormat f);
schema::PayloadFormat to_schema(PayloadFormat f);

// Reads every field of `root` once, as its schema types it (text is NUL-terminated and holds no
// other NUL, data is bytes, lists have the right element size ...). Throws kj::Exception on the
// first bad one.
void validate_deep(capnp::DynamicStruct::Reader root);

// The same check for the messages on the hot paths, through the generated accessors: each reads
// every pointer field once (which bounds-checks it, and checks Text for its terminating NUL and
// for a NUL before it), without the cost of schema reflection per field, which dominated large
// messages. Keep them in step with schemas/: every Text/Data/List/struct field must be read here;
// wire_test checks on corrupted frames that each agrees with validate_deep.
//
// A Text field with a NUL before its terminator (a stream "abc\0def", a type, a category, a
// projection name, an error message) makes the whole message malformed: no service sees it, the
// sender gets ErrorCode::malformed naming the field (schemas/README.md, "Framing").
void validate(schema::WriterRequest::Reader r);
void validate(schema::WriterReply::Reader r);
void validate(schema::ReaderRequest::Reader r);
void validate(schema::ReaderReply::Reader r);
void validate(schema::CommittedBatch::Reader r);
void validate(schema::FeedMessage::Reader r);

template <typename T>
concept HasTypedValidator = requires(typename T::Reader r) { validate(r); };

// Decodes a frame whose root is T and validates every field against T's schema, so that later
// reads of the message cannot throw.
template <typename T>
std::variant<Decoded, DecodeError> decode(zmq::message_t&& frame, const Limits& limits) {
  constexpr bool has_request_id = requires(typename T::Reader r) { r.getRequestId(); };
  std::uint64_t request_id = 0;
  if constexpr (has_request_id) {
    if (frame.size() > limits.max_message_bytes) request_id = peek_request_id<T>(frame);
  }
  auto result = decode_any(std::move(frame), limits);
  if (auto* err = std::get_if<DecodeError>(&result)) {
    err->request_id = request_id;
  } else {
    auto& d = std::get<Decoded>(result);
    try {
      if constexpr (HasTypedValidator<T>) validate(d.root<T>());
      else validate_deep(capnp::toDynamic(d.root<T>()));
      d.reset_reader();
    } catch (const kj::Exception& e) {
      if constexpr (has_request_id) {
        d.reset_reader();
        try {
          request_id = d.root<T>().getRequestId();
        } catch (...) {
        }
      }
      return DecodeError{schema::ErrorCode::MALFORMED, std::string("malformed message: ") + e.getDescription().cStr(),
                         request_id};
    }
  }
  return result;
}

// PUB/SUB framing: a topic frame, then one message frame.
// Sends both frames without blocking; false when the socket would block (the message is dropped,
// which a PUB socket does by itself anyway at its HWM).
bool send_with_topic(zmq::socket_t& socket, std::string_view topic, capnp::MessageBuilder& builder);
struct TopicMessage {
  std::string topic;
  zmq::message_t message;  // empty (so decode() rejects it) when the sender did not send exactly two frames
};
// Receives one topic + message pair; nullopt when nothing is waiting (with dontwait).
std::optional<TopicMessage> recv_with_topic(zmq::socket_t& socket, zmq::recv_flags flags = zmq::recv_flags::dontwait);

// "malformed", "wrongExpectedVersion", ... for logs and error messages.
std::string to_string(schema::ErrorCode code);

}  // namespace even::wire
