// The wire framing: round trips, alignment, size limits and malformed input (a small fuzz).
#include "even/common/wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "even/common/types.h"
#include "even/schemas/feed.capnp.h"
#include "even/schemas/reader.capnp.h"
#include "even/schemas/writer.capnp.h"

namespace even {
namespace {

zmq::message_t sample_request(std::size_t events, std::size_t payload_bytes) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::WriterRequest>();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(77);
  auto a = req.initAppend();
  a.setStream("account-1");
  a.initExpected().setExact(3);
  auto list = a.initEvents(static_cast<unsigned>(events));
  std::string payload(payload_bytes, 'x');
  for (unsigned i = 0; i < events; ++i) {
    auto id = EventId::random();
    list[i].setEventId(kj::arrayPtr(id.data(), 16));
    list[i].setType("Deposited");
    list[i].setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(payload.data()), payload.size()));
  }
  return wire::encode(msg);
}

TEST(Wire, RoundTrip) {
  auto frame = sample_request(3, 10);
  auto r = wire::decode<schema::WriterRequest>(std::move(frame), {});
  ASSERT_TRUE(std::holds_alternative<wire::Decoded>(r));
  auto req = std::get<wire::Decoded>(r).root<schema::WriterRequest>();
  EXPECT_EQ(req.getRequestId(), 77u);
  EXPECT_EQ(req.getAppend().getStream(), "account-1");
  EXPECT_EQ(req.getAppend().getExpected().getExact(), 3);
  EXPECT_EQ(req.getAppend().getEvents().size(), 3u);
}

TEST(Wire, DecodedSurvivesMoveOfSmallFrames) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::WriterReply>().setRequestId(5);
  auto r = wire::decode<schema::WriterReply>(wire::encode(msg), {});
  ASSERT_TRUE(std::holds_alternative<wire::Decoded>(r));
  wire::Decoded moved = std::move(std::get<wire::Decoded>(r));
  wire::Decoded again = std::move(moved);
  EXPECT_EQ(again.root<schema::WriterReply>().getRequestId(), 5u);
}

TEST(Wire, UnalignedFrameIsCopied) {
  auto frame = sample_request(2, 5);
  std::vector<char> buf(frame.size() + 1);
  std::memcpy(buf.data() + 1, frame.data(), frame.size());
  // A message whose data starts at an odd address.
  zmq::message_t odd(frame.size());
  auto r1 = wire::decode<schema::WriterRequest>(zmq::message_t(buf.data() + 1, frame.size()), {});
  ASSERT_TRUE(std::holds_alternative<wire::Decoded>(r1));
  EXPECT_EQ(std::get<wire::Decoded>(r1).root<schema::WriterRequest>().getRequestId(), 77u);
}

TEST(Wire, RejectsOversized) {
  auto frame = sample_request(1, 2000);
  wire::Limits limits;
  limits.max_message_bytes = 1024;
  auto r = wire::decode<schema::WriterRequest>(std::move(frame), limits);
  ASSERT_TRUE(std::holds_alternative<wire::DecodeError>(r));
  EXPECT_EQ(std::get<wire::DecodeError>(r).code, schema::ErrorCode::TOO_LARGE);
}

TEST(Wire, RejectsGarbage) {
  for (std::string junk : {std::string("hello"), std::string(8, '\xff'), std::string(16, '\x00'), std::string(""),
                           std::string("\x00\x00\x00\x00\x10\x00\x00\x00", 8)}) {
    auto r = wire::decode<schema::WriterRequest>(zmq::message_t(junk.data(), junk.size()), {});
    if (auto* e = std::get_if<wire::DecodeError>(&r)) {
      EXPECT_EQ(e->code, schema::ErrorCode::MALFORMED) << e->message;
    } else {
      // An all-zero message is a valid empty struct: reading it must not throw.
      EXPECT_NO_THROW(std::get<wire::Decoded>(r).root<schema::WriterRequest>().getRequestId());
    }
  }
}

// Random corruption of a valid message never crashes and never yields a reader that throws later.
TEST(Wire, FuzzCorruptedFrames) {
  std::mt19937 rng(12345);
  auto good = sample_request(4, 40);
  std::string base(static_cast<const char*>(good.data()), good.size());
  int rejected = 0, accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string m = base;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
    if (rng() % 10 == 0) m.resize((rng() % (m.size() / 8 + 1)) * 8);
    auto r = wire::decode<schema::WriterRequest>(zmq::message_t(m.data(), m.size()), {});
    if (auto* d = std::get_if<wire::Decoded>(&r)) {
      ++accepted;
      // Fully traversed at decode time: every accessor is now safe.
      auto req = d->root<schema::WriterRequest>();
      EXPECT_NO_THROW({
        (void)req.getRequestId();
        if (req.isAppend()) {
          (void)req.getAppend().getStream();
          for (auto e : req.getAppend().getEvents()) {
            (void)e.getEventId();
            (void)e.getPayload();
            (void)e.getType();
          }
        }
      });
    } else {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}


// The typed validators (wire::validate) must reject exactly what the schema-driven traversal
// (wire::validate_deep) rejects: both run over the same corrupted frames of each hot message type.
// Half of the frames get one byte zeroed besides the random flips, so that text fields with a
// NUL before their end are among them (`nul_texts`: how many the typed validator refused for that).
template <typename T>
void expect_validators_agree(const zmq::message_t& good, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string base(static_cast<const char*>(good.data()), good.size());
  int rejected = 0, accepted = 0, nul_texts = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string m = base;
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
    if (i % 2 == 0) m[rng() % m.size()] = '\0';
    std::string why;
    auto outcome = [&](auto check) {
      auto r = wire::decode_any(zmq::message_t(m.data(), m.size()), {});
      auto* d = std::get_if<wire::Decoded>(&r);
      if (!d) return std::string("framing");
      try {
        check(d->root<T>());
        return std::string("ok");
      } catch (const kj::Exception& e) {
        why = e.getDescription().cStr();
        return std::string("throws");
      }
    };
    const auto typed = outcome([](typename T::Reader r) { wire::validate(r); });
    if (why.find("NUL byte") != std::string::npos) ++nul_texts;
    const auto deep = outcome([](typename T::Reader r) { wire::validate_deep(capnp::toDynamic(r)); });
    ASSERT_EQ(typed, deep) << "frame " << i << " of " << T::_capnpPrivate::typeId << ": " << why;
    (typed == "ok" ? accepted : rejected) += 1;
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
  EXPECT_GT(nul_texts, 0) << "no frame had a NUL inside a text field";
}

void fill_recorded(schema::RecordedEvent::Builder e, std::uint64_t seq) {
  auto id = EventId::random();
  e.setGlobalSeq(seq);
  e.setEventId(kj::arrayPtr(id.data(), 16));
  e.setStream("account-" + std::to_string(seq));
  e.setStreamSeq(static_cast<std::int64_t>(seq));
  e.setType("Deposited");
  std::string md = "{\"c\":1}", payload(24, 'p');
  e.setMetadata(kj::arrayPtr(reinterpret_cast<const kj::byte*>(md.data()), md.size()));
  e.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(payload.data()), payload.size()));
}

TEST(Wire, TypedValidatorsAgreeWithSchemaTraversal) {
  expect_validators_agree<schema::WriterRequest>(sample_request(3, 24), 1);
  {
    capnp::MallocMessageBuilder msg;
    auto e = msg.initRoot<schema::WriterReply>().initError();
    e.setCode(schema::ErrorCode::WRONG_EXPECTED_VERSION);
    e.setMessage("wrong expected version: the stream is at 4");
    expect_validators_agree<schema::WriterReply>(wire::encode(msg), 2);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto a = msg.initRoot<schema::ReaderRequest>().initReadAll();
    a.initCategories(2).set(0, "account");
    a.getCategories().set(1, "transfer");
    a.initEventTypes(1).set(0, "Deposited");
    expect_validators_agree<schema::ReaderRequest>(wire::encode(msg), 3);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto events = msg.initRoot<schema::ReaderReply>().initPage().initEvents(3);
    for (unsigned i = 0; i < 3; ++i) fill_recorded(events[i], i + 1);
    expect_validators_agree<schema::ReaderReply>(wire::encode(msg), 4);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto events = msg.initRoot<schema::CommittedBatch>().initEvents(3);
    for (unsigned i = 0; i < 3; ++i) fill_recorded(events[i], i + 1);
    expect_validators_agree<schema::CommittedBatch>(wire::encode(msg), 5);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto fe = msg.initRoot<schema::FeedMessage>().initEvent();
    fill_recorded(fe.initEvent(), 9);
    fe.setPrevGlobalSeq(8);
    expect_validators_agree<schema::FeedMessage>(wire::encode(msg), 6);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto hb = msg.initRoot<schema::FeedMessage>().initHeartbeat();
    auto heads = hb.initCategoryHeads(2);
    heads[0].setCategory("account");
    heads[1].setCategory("transfer");
    expect_validators_agree<schema::FeedMessage>(wire::encode(msg), 7);
  }
}

// Cap'n Proto Text guarantees only its terminating NUL. A NUL before it would cut the text
// wherever it is copied as a C string ("abc\0def" stored as stream "abc"), so every decoder
// refuses it as malformed, naming the field, whatever the message and whichever its text field.
capnp::Text::Reader nul_text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }
// A frame whose root (one pointer) holds a list in the form Cap'n Proto also reads as a list of
// structs: `count` empty structs (inline-composite, zero-sized elements) or `count` bytes.
zmq::message_t sub_word_struct_list(bool bytes, std::uint32_t count) {
  std::vector<std::uint64_t> words;
  words.push_back(std::uint64_t(1) << 48);  // root: a struct with no data and one pointer
  if (bytes) {
    words.push_back(1 | (std::uint64_t(2) << 32) | (std::uint64_t(count) << 35));  // list of bytes
    words.resize(2 + (count + 7) / 8, 0x0101010101010101u);
  } else {
    words.push_back(1 | (std::uint64_t(7) << 32));  // inline-composite list of 0 words
    words.push_back(std::uint64_t(count) << 2);     // its tag: `count` structs of 0 words, 0 pointers
  }
  std::vector<std::uint32_t> table{0, static_cast<std::uint32_t>(words.size())};
  zmq::message_t frame(8 + words.size() * 8);
  std::memcpy(frame.data(), table.data(), 8);
  std::memcpy(static_cast<char*>(frame.data()) + 8, words.data(), words.size() * 8);
  return frame;
}

// Found by reading what the feed's decoder allows (tests/fuzz/README.md): a 16 MiB frame made
// 4 million claims (600 MiB) in the dispatcher, a 4 KiB frame of bytes 4,000.
TEST(Wire, ListOfStructsSmallerThanAWordIsMalformed) {
  for (bool bytes : {false, true}) {
    SCOPED_TRACE(bytes ? "bytes" : "empty structs");
    // Empty structs cost a word each of the traversal limit (twice the frame's words, + 64): few.
    const std::uint32_t count = bytes ? 1000 : 50;
    auto frame = sub_word_struct_list(bytes, count);
    std::string copy(static_cast<const char*>(frame.data()), frame.size());
    auto r = wire::decode<schema::CommittedBatch>(std::move(frame), {});
    auto* err = std::get_if<wire::DecodeError>(&r);
    ASSERT_NE(err, nullptr) << "accepted " << count << " events in " << copy.size() << " bytes";
    EXPECT_EQ(err->code, schema::ErrorCode::MALFORMED);
    EXPECT_NE(err->message.find("list 'events' holds " + std::to_string(count) + " elements of"), std::string::npos)
        << err->message;
    // The schema traversal refuses it too.
    auto any = wire::decode_any(zmq::message_t(copy.data(), copy.size()), {});
    ASSERT_TRUE(std::holds_alternative<wire::Decoded>(any));
    EXPECT_THROW(wire::validate_deep(capnp::toDynamic(std::get<wire::Decoded>(any).root<schema::CommittedBatch>())),
                 kj::Exception);
  }
}

const std::string kNul("abc\0def", 7);

template <typename T>
void expect_nul_refused(capnp::MallocMessageBuilder& msg, const std::string& field, std::uint64_t request_id = 0) {
  SCOPED_TRACE(field);
  auto frame = wire::encode(msg);
  std::string copy(static_cast<const char*>(frame.data()), frame.size());
  auto r = wire::decode<T>(std::move(frame), {});
  auto* err = std::get_if<wire::DecodeError>(&r);
  ASSERT_NE(err, nullptr) << "accepted a text with a NUL byte";
  EXPECT_EQ(err->code, schema::ErrorCode::MALFORMED);
  EXPECT_NE(err->message.find("'" + field + "' holds a NUL byte at offset 3"), std::string::npos) << err->message;
  EXPECT_EQ(err->request_id, request_id);
  // The schema traversal (used for messages without a typed validator) refuses it too.
  auto any = wire::decode_any(zmq::message_t(copy.data(), copy.size()), {});
  ASSERT_TRUE(std::holds_alternative<wire::Decoded>(any));
  EXPECT_THROW(wire::validate_deep(capnp::toDynamic(std::get<wire::Decoded>(any).root<T>())), kj::Exception);
}

TEST(Wire, TextWithANulIsMalformedInEveryMessage) {
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::WriterRequest>();
    req.setRequestId(41);
    auto a = req.initAppend();
    a.setStream(nul_text(kNul));
    a.initEvents(1)[0].setType("Opened");
    expect_nul_refused<schema::WriterRequest>(msg, "stream", 41);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::WriterRequest>();
    req.setRequestId(42);
    auto a = req.initAppend();
    a.setStream("account-1");
    auto events = a.initEvents(2);
    events[0].setType("Opened");
    events[1].setType(nul_text(kNul));
    expect_nul_refused<schema::WriterRequest>(msg, "type", 42);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto e = msg.initRoot<schema::WriterReply>().initError();
    e.setMessage(nul_text(kNul));
    expect_nul_refused<schema::WriterReply>(msg, "message");
  }
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::ReaderRequest>();
    req.setRequestId(43);
    req.initReadStream().setStream(nul_text(kNul));
    expect_nul_refused<schema::ReaderRequest>(msg, "stream", 43);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::ReaderRequest>();
    req.setRequestId(44);
    req.initStreamInfo().setStream(nul_text(kNul));
    expect_nul_refused<schema::ReaderRequest>(msg, "stream", 44);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::ReaderRequest>();
    req.setRequestId(45);
    auto cats = req.initReadAll().initCategories(2);
    cats.set(0, "account");
    cats.set(1, nul_text(kNul));
    expect_nul_refused<schema::ReaderRequest>(msg, "categories", 45);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::ReaderRequest>();
    req.setRequestId(46);
    req.initReadAll().initEventTypes(1).set(0, nul_text(kNul));
    expect_nul_refused<schema::ReaderRequest>(msg, "eventTypes", 46);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto req = msg.initRoot<schema::ReaderRequest>();
    req.setRequestId(47);
    req.initReadProjection().setName(nul_text(kNul));
    expect_nul_refused<schema::ReaderRequest>(msg, "name", 47);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto events = msg.initRoot<schema::ReaderReply>().initPage().initEvents(1);
    fill_recorded(events[0], 1);
    events[0].setStream(nul_text(kNul));
    expect_nul_refused<schema::ReaderReply>(msg, "stream");
  }
  {
    capnp::MallocMessageBuilder msg;
    auto events = msg.initRoot<schema::CommittedBatch>().initEvents(1);
    fill_recorded(events[0], 1);
    events[0].setType(nul_text(kNul));
    expect_nul_refused<schema::CommittedBatch>(msg, "type");
  }
  {
    capnp::MallocMessageBuilder msg;
    auto fe = msg.initRoot<schema::FeedMessage>().initEvent();
    fill_recorded(fe.initEvent(), 9);
    fe.getEvent().setStream(nul_text(kNul));
    expect_nul_refused<schema::FeedMessage>(msg, "stream");
  }
  {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::FeedMessage>().initHeartbeat().initCategoryHeads(1)[0].setCategory(nul_text(kNul));
    expect_nul_refused<schema::FeedMessage>(msg, "category");
  }
}

// Text is taken with its length both ways (wire::as_text / text_string), not as a C string.
TEST(Wire, TextHelpersKeepEveryByte) {
  capnp::MallocMessageBuilder msg;
  auto a = msg.initRoot<schema::WriterRequest>().initAppend();
  a.setStream(wire::as_text(kNul));
  EXPECT_EQ(a.asReader().getStream().size(), kNul.size());
  EXPECT_EQ(wire::text_string(a.asReader().getStream()), kNul);
  EXPECT_EQ(wire::text_view(a.asReader().getStream()), std::string_view(kNul));
}

}  // namespace
}  // namespace even
