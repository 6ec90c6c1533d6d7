// The wire framing: round trips, alignment, size limits and malformed input (a small fuzz).
#include "even/common/wire.h"

#include <gtest/gtest.h>

#include <random>

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
template <typename T>
void expect_validators_agree(const zmq::message_t& good, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string base(static_cast<const char*>(good.data()), good.size());
  int rejected = 0, accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string m = base;
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng());
    auto outcome = [&](auto check) {
      auto r = wire::decode_any(zmq::message_t(m.data(), m.size()), {});
      auto* d = std::get_if<wire::Decoded>(&r);
      if (!d) return std::string("framing");
      try {
        check(d->root<T>());
        return std::string("ok");
      } catch (const kj::Exception&) {
        return std::string("throws");
      }
    };
    const auto typed = outcome([](typename T::Reader r) { wire::validate(r); });
    const auto deep = outcome([](typename T::Reader r) { wire::validate_deep(capnp::toDynamic(r)); });
    ASSERT_EQ(typed, deep) << "frame " << i << " of " << T::_capnpPrivate::typeId;
    (typed == "ok" ? accepted : rejected) += 1;
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
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

}  // namespace
}  // namespace even
