// even-reader's protocol at the socket level: a raw DEALER sends good and bad requests to the real
// process and checks every reply is a clear ReaderReply; plus clean shutdown.
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "even/common/wire.h"
#include "even/schemas/reader.capnp.h"
#include "reader_cluster.h"

namespace even::test {
namespace {

using EC = schema::ErrorCode;

// A raw DEALER to the reader.
class RawClient {
 public:
  explicit RawClient(const std::string& endpoint) : ctx_(1), dealer_(ctx_, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::rcvtimeo, 10000);
    dealer_.connect(endpoint);
  }
  void send(const void* data, std::size_t size) {
    zmq::message_t m(data, size);
    dealer_.send(m, zmq::send_flags::none);
  }
  void send(capnp::MallocMessageBuilder& msg) {
    auto frame = wire::encode(msg);
    dealer_.send(frame, zmq::send_flags::none);
  }
  // The next reply, decoded and validated; fails the test when none comes or it is malformed.
  std::optional<wire::Decoded> receive() {
    zmq::message_t frame;
    if (!dealer_.recv(frame)) {
      ADD_FAILURE() << "no reply within 10 s";
      return std::nullopt;
    }
    EXPECT_FALSE(frame.more());
    auto d = wire::decode<schema::ReaderReply>(std::move(frame), wire::Limits{});
    if (auto* err = std::get_if<wire::DecodeError>(&d)) {
      ADD_FAILURE() << "malformed reply: " << err->message;
      return std::nullopt;
    }
    return std::move(std::get<wire::Decoded>(d));
  }
  // True when no reply comes within `ms`.
  bool silent_for(std::chrono::milliseconds ms) {
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    return zmq::poll(&item, 1, ms) == 0;
  }
  // Sends and expects an error reply with `code`; returns its message.
  std::string expect_error(capnp::MallocMessageBuilder& msg, EC code, std::uint64_t id) {
    send(msg);
    return check_error(code, id);
  }
  std::string check_error(EC code, std::uint64_t id) {
    auto d = receive();
    if (!d) return {};
    auto r = d->root<schema::ReaderReply>();
    EXPECT_EQ(r.getRequestId(), id);
    if (!r.isError()) {
      ADD_FAILURE() << "expected an error reply";
      return {};
    }
    EXPECT_EQ(r.getError().getCode(), code) << wire::to_string(r.getError().getCode()) << ": "
                                            << r.getError().getMessage().cStr();
    std::string message = r.getError().getMessage();
    EXPECT_FALSE(message.empty());
    return message;
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t dealer_;
};

schema::ReaderRequest::Builder request(capnp::MallocMessageBuilder& msg, std::uint64_t id) {
  auto r = msg.initRoot<schema::ReaderRequest>();
  r.setProtocolVersion(schema::PROTOCOL_VERSION);
  r.setRequestId(id);
  return r;
}

class ReaderService : public ::testing::Test {
 protected:
  ReaderCluster cluster{ReaderFlags{{"--reader.max-request-bytes", "4096", "--reader.page-max-events", "3",
                                     "--reader.max-requests-in-flight-per-client", "4",
                                     // the 96 refusals below go out in one burst: room for all of them
                                     "--reader.send-hwm", "1000"}}};
  RawClient raw{cluster.reader_endpoint};
};

TEST_F(ReaderService, AnswersEveryRequestKind) {
  cluster.append_n("acct-1", "Opened", 4);
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 11).setHead();
    raw.send(msg);
    auto d = raw.receive();
    ASSERT_TRUE(d);
    auto r = d->root<schema::ReaderReply>();
    EXPECT_EQ(r.getRequestId(), 11u);
    ASSERT_TRUE(r.isHead());
    EXPECT_EQ(r.getHead(), static_cast<std::uint64_t>(cluster.store.scalar("SELECT MAX(global_seq) FROM events")));
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 12).initStreamInfo().setStream("acct-1");
    raw.send(msg);
    auto d = raw.receive();
    ASSERT_TRUE(d);
    auto r = d->root<schema::ReaderReply>();
    ASSERT_TRUE(r.isStreamInfo());
    EXPECT_TRUE(r.getStreamInfo().getExists());
    EXPECT_EQ(r.getStreamInfo().getVersion(), 4);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto rs = request(msg, 13).initReadStream();
    rs.setStream("acct-1");
    rs.setFrom(1);
    raw.send(msg);
    auto d = raw.receive();
    ASSERT_TRUE(d);
    auto r = d->root<schema::ReaderReply>();
    ASSERT_TRUE(r.isPage());
    auto p = r.getPage();
    ASSERT_EQ(p.getEvents().size(), 3u);  // --page-max-events 3
    EXPECT_FALSE(p.getEnd());
    EXPECT_EQ(p.getNextStreamSeq(), 4);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto ra = request(msg, 14).initReadAll();
    ra.setFrom(0);
    ra.setMaxCount(100);  // capped by the reader's page size
    raw.send(msg);
    auto d = raw.receive();
    ASSERT_TRUE(d);
    auto p = d->root<schema::ReaderReply>().getPage();
    EXPECT_EQ(p.getEvents().size(), 3u);
    EXPECT_FALSE(p.getEnd());
    EXPECT_EQ(p.getNextGlobalSeq(), p.getEvents()[2].getGlobalSeq() + 1);
  }
  {  // Exactly the rest: end is known without another round trip.
    capnp::MallocMessageBuilder msg;
    auto rs = request(msg, 15).initReadStream();
    rs.setStream("acct-1");
    rs.setFrom(2);
    raw.send(msg);
    auto d = raw.receive();
    ASSERT_TRUE(d);
    auto p = d->root<schema::ReaderReply>().getPage();
    EXPECT_EQ(p.getEvents().size(), 3u);
    EXPECT_TRUE(p.getEnd());
  }
}

// A client that sends many requests without reading their replies: the reader keeps
// --reader.max-requests-in-flight-per-client (4 here) of them and refuses each further one `busy`
// at once, without a read. The events table is locked meanwhile, so none of the 4 reads can end
// before all 100 requests have arrived: the 96 refusals come while the reads wait, then the pages.
TEST_F(ReaderService, RequestsBeyondTheInFlightLimitAreRefusedBusyAtOnce) {
  cluster.append_n("acct-1", "Opened", 4);
  constexpr std::uint64_t kSent = 100, kLimit = 4;
  auto lock = cluster.store.connect();
  lock->execute("LOCK TABLES events WRITE");
  for (std::uint64_t id = 1; id <= kSent; ++id) {
    capnp::MallocMessageBuilder msg;
    request(msg, id).initReadAll().setFrom(0);
    raw.send(msg);
  }
  std::set<std::uint64_t> refused;
  for (std::uint64_t i = 0; i < kSent - kLimit; ++i) {
    auto d = raw.receive();
    ASSERT_TRUE(d) << "only " << refused.size() << " refusals while the reads wait";
    auto r = d->root<schema::ReaderReply>();
    ASSERT_TRUE(r.isError()) << "a reply that is not a refusal while the store is locked";
    EXPECT_EQ(r.getError().getCode(), EC::BUSY) << r.getError().getMessage().cStr();
    EXPECT_NE(std::string(r.getError().getMessage()).find("max-requests-in-flight-per-client"), std::string::npos);
    refused.insert(r.getRequestId());
  }
  EXPECT_EQ(refused.size(), kSent - kLimit);
  for (std::uint64_t id = 1; id <= kLimit; ++id) EXPECT_EQ(refused.count(id), 0u) << id;
  EXPECT_TRUE(raw.silent_for(std::chrono::milliseconds(300))) << "more than the refusals while the store is locked";

  lock->execute("UNLOCK TABLES");
  std::set<std::uint64_t> served;
  for (std::uint64_t i = 0; i < kLimit; ++i) {
    auto d = raw.receive();
    ASSERT_TRUE(d);
    auto r = d->root<schema::ReaderReply>();
    ASSERT_TRUE(r.isPage()) << (r.isError() ? r.getError().getMessage().cStr() : "not a page");
    EXPECT_EQ(r.getPage().getEvents().size(), 3u);
    served.insert(r.getRequestId());
  }
  EXPECT_EQ(served, (std::set<std::uint64_t>{1, 2, 3, 4}));
  // Its replies read, the client has nothing in flight: it is served again.
  capnp::MallocMessageBuilder msg;
  request(msg, 101).setHead();
  raw.send(msg);
  auto d = raw.receive();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->root<schema::ReaderReply>().isHead());
}

TEST_F(ReaderService, GarbageGetsMalformed) {
  const char junk[] = "this is not a capnp message";  // 28 bytes: not whole words
  raw.send(junk, sizeof junk - 1);
  EXPECT_NE(raw.check_error(EC::MALFORMED, 0).find("malformed"), std::string::npos);
  std::uint64_t words[4] = {0xffffffff00000000ull, 0x1234, 0x5678, 0x9abc};  // absurd segment table
  raw.send(words, sizeof words);
  raw.check_error(EC::MALFORMED, 0);
  std::uint64_t empty[1] = {0};  // a segment table for one empty segment, no root
  raw.send(empty, sizeof empty);
  raw.check_error(EC::MALFORMED, 0);
  // A well-formed message of another type whose text field points out of bounds.
  std::uint64_t bad_ptr[4] = {0x0000000300000000ull, 0x0001000100000000ull, 0x0000000000000000ull,
                              0x000000ff00000fe1ull};
  raw.send(bad_ptr, sizeof bad_ptr);
  raw.check_error(EC::MALFORMED, 0);
  // The reader still serves after all that.
  capnp::MallocMessageBuilder msg;
  request(msg, 5).setHead();
  raw.send(msg);
  auto d = raw.receive();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->root<schema::ReaderReply>().isHead());
}

TEST_F(ReaderService, OversizedGetsTooLarge) {
  std::string big(8192, '\0');  // above --max-request-bytes 4096
  raw.send(big.data(), big.size());
  auto message = raw.check_error(EC::TOO_LARGE, 0);
  EXPECT_NE(message.find("4096"), std::string::npos) << message;
  // Too many filter values.
  capnp::MallocMessageBuilder msg;
  auto ra = request(msg, 8).initReadAll();
  auto cats = ra.initCategories(65);
  for (unsigned i = 0; i < 65; ++i) cats.set(i, "c" + std::to_string(i));
  raw.expect_error(msg, EC::TOO_LARGE, 8);
}

TEST_F(ReaderService, UnknownVersionGetsUnsupportedVersion) {
  capnp::MallocMessageBuilder msg;
  auto r = request(msg, 77);
  r.setProtocolVersion(99);
  r.setHead();
  auto message = raw.expect_error(msg, EC::UNSUPPORTED_VERSION, 77);
  EXPECT_NE(message.find("99"), std::string::npos) << message;
}

TEST_F(ReaderService, InvalidArgumentsGetClearErrors) {
  {
    capnp::MallocMessageBuilder msg;
    auto rs = request(msg, 1).initReadStream();
    rs.setStream("s-1");
    rs.setFrom(-5);
    raw.expect_error(msg, EC::BAD_RANGE, 1);
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 2).initReadStream().setStream("no spaces allowed");
    raw.expect_error(msg, EC::INVALID_STREAM, 2);
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 3).initReadStream().setStream("missing-1");
    auto message = raw.expect_error(msg, EC::NOT_FOUND, 3);
    EXPECT_NE(message.find("missing-1"), std::string::npos);
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 4).initReadAll().initCategories(1).set(0, "with-dash");
    raw.expect_error(msg, EC::INVALID_STREAM, 4);
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 5).initReadAll().initEventTypes(1).set(0, "");
    raw.expect_error(msg, EC::INVALID_EVENT, 5);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto rp = request(msg, 6).initReadProjection();
    rp.setName("balances");
    rp.setFrom(1);
    raw.expect_error(msg, EC::NOT_FOUND, 6);
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 7).initStreamInfo().setStream("");
    raw.expect_error(msg, EC::INVALID_STREAM, 7);
  }
}

// A text field with a NUL byte is refused as malformed, not cut at the NUL: "acct-1\0x" must not
// read stream "acct-1" (nor a category "acct\0x" category "acct", ...). Raw Cap'n Proto text
// with the bytes given, as a foreign client would send it.
TEST_F(ReaderService, TextWithANulIsRefusedNotCut) {
  cluster.append_n("acct-1", "Opened", 2);
  const std::string stream("acct-1\0x", 8), category("acct\0x", 6), type("Opened\0x", 8), name("balances\0x", 10);
  auto nul_text = [](const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); };
  std::vector<std::string> messages;
  {
    capnp::MallocMessageBuilder msg;
    auto rs = request(msg, 21).initReadStream();
    rs.setStream(nul_text(stream));
    rs.setFrom(1);
    messages.push_back(raw.expect_error(msg, EC::MALFORMED, 21));
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 22).initStreamInfo().setStream(nul_text(stream));
    messages.push_back(raw.expect_error(msg, EC::MALFORMED, 22));
  }
  {
    capnp::MallocMessageBuilder msg;
    request(msg, 23).initReadAll().initCategories(1).set(0, nul_text(category));
    messages.push_back(raw.expect_error(msg, EC::MALFORMED, 23));
  }
  {
    capnp::MallocMessageBuilder msg;
    auto ra = request(msg, 24).initReadAll();
    ra.initCategories(1).set(0, "acct");
    ra.initEventTypes(2).set(0, "Closed");
    ra.getEventTypes().set(1, nul_text(type));
    messages.push_back(raw.expect_error(msg, EC::MALFORMED, 24));
  }
  {
    capnp::MallocMessageBuilder msg;
    auto rp = request(msg, 25).initReadProjection();
    rp.setName(nul_text(name));
    rp.setFrom(1);
    messages.push_back(raw.expect_error(msg, EC::MALFORMED, 25));
  }
  for (const auto& m : messages) EXPECT_NE(m.find("NUL"), std::string::npos) << m;
}

TEST_F(ReaderService, StopsCleanlyOnSigterm) {
  cluster.reader().signal(SIGTERM);
  EXPECT_EQ(cluster.reader().wait(std::chrono::seconds(10)), 0);
  EXPECT_NE(cluster.reader().log().find("stopped after"), std::string::npos) << cluster.reader().log();
}

}  // namespace
}  // namespace even::test
