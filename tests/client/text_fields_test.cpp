// Text fields with a NUL byte, end to end: a foreign client (libzmq's C API, the message built
// with plain Cap'n Proto) sends a stream name "abc\0def" to the real even-writer, and the
// client library is given such names for appends and reads. Each must be refused with a clear
// error and store nothing; before, the text was cut at the NUL and "abc" was written or read.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <zmq.h>

#include <cstring>
#include <string>
#include <vector>

#include "even/common/wire.h"
#include "even/schemas/writer.capnp.h"
#include "reader/reader_cluster.h"

namespace even::test {
namespace {

const std::string kNulStream("abc\0def", 7);

// A DEALER through libzmq's C API: no cppzmq, no even_client.
class ForeignDealer {
 public:
  explicit ForeignDealer(const std::string& endpoint) : ctx_(zmq_ctx_new()), socket_(zmq_socket(ctx_, ZMQ_DEALER)) {
    int linger = 0, timeout_ms = 10000;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket_, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    EXPECT_EQ(zmq_connect(socket_, endpoint.c_str()), 0) << zmq_strerror(zmq_errno());
  }
  ~ForeignDealer() {
    zmq_close(socket_);
    zmq_ctx_term(ctx_);
  }
  ForeignDealer(const ForeignDealer&) = delete;
  ForeignDealer& operator=(const ForeignDealer&) = delete;

  // Sends the message as one flat frame; returns the reply frame's bytes (empty on timeout).
  std::vector<capnp::word> call(capnp::MallocMessageBuilder& msg) {
    auto words = capnp::messageToFlatArray(msg);
    auto bytes = words.asBytes();
    EXPECT_EQ(zmq_send(socket_, bytes.begin(), bytes.size(), 0), static_cast<int>(bytes.size()));
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    std::vector<capnp::word> out;
    const int n = zmq_msg_recv(&reply, socket_, 0);
    if (n > 0) {
      out.resize((static_cast<std::size_t>(n) + sizeof(capnp::word) - 1) / sizeof(capnp::word));
      std::memcpy(out.data(), zmq_msg_data(&reply), static_cast<std::size_t>(n));
    }
    zmq_msg_close(&reply);
    return out;
  }

 private:
  void* ctx_;
  void* socket_;
};

// An append of one event, every text given with its bytes (Text::Reader(data, size)).
void build_append(capnp::MallocMessageBuilder& msg, std::uint64_t request_id, const std::string& stream,
                  const std::string& type) {
  auto req = msg.initRoot<schema::WriterRequest>();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(request_id);
  auto a = req.initAppend();
  a.setStream(capnp::Text::Reader(stream.data(), stream.size()));
  a.initExpected().setAny();
  auto e = a.initEvents(1)[0];
  auto id = EventId::random();
  e.setEventId(kj::arrayPtr(id.data(), EventId::kSize));
  e.setType(capnp::Text::Reader(type.data(), type.size()));
  const std::string payload = "{}";
  e.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(payload.data()), payload.size()));
  e.setPayloadFormat(schema::PayloadFormat::JSON);
}

std::int64_t stored_events(ReaderCluster& c) { return c.store.scalar("SELECT COUNT(*) FROM events"); }

TEST(TextFields, AForeignAppendWithANulInTheStreamOrTypeIsRefusedAndStoresNothing) {
  ReaderCluster c;
  ForeignDealer dealer(c.writer_endpoint);
  struct Case {
    std::uint64_t id;
    std::string stream, type, field;
  };
  const std::vector<Case> cases = {{101, kNulStream, "Opened", "stream"},
                                   {102, "account-1", std::string("Opened\0x", 8), "type"}};
  for (const auto& k : cases) {
    SCOPED_TRACE(k.field);
    capnp::MallocMessageBuilder msg;
    build_append(msg, k.id, k.stream, k.type);
    auto words = dealer.call(msg);
    ASSERT_FALSE(words.empty()) << "no reply from the writer";
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()));
    auto reply = reader.getRoot<schema::WriterReply>();
    EXPECT_EQ(reply.getRequestId(), k.id);
    ASSERT_TRUE(reply.isError()) << "the append succeeded";
    EXPECT_EQ(reply.getError().getCode(), schema::ErrorCode::MALFORMED) << wire::to_string(reply.getError().getCode());
    const std::string message = wire::text_string(reply.getError().getMessage());
    EXPECT_NE(message.find("'" + k.field + "' holds a NUL byte"), std::string::npos) << message;
  }
  EXPECT_EQ(stored_events(c), 0);
  EXPECT_EQ(c.store.scalar("SELECT COUNT(*) FROM streams"), 0);
  // The writer still serves a good append from the same client.
  capnp::MallocMessageBuilder msg;
  build_append(msg, 103, "account-1", "Opened");
  auto words = dealer.call(msg);
  ASSERT_FALSE(words.empty());
  capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()));
  EXPECT_TRUE(reader.getRoot<schema::WriterReply>().isAppend());
  EXPECT_EQ(stored_events(c), 1);
}

// The client library sends every byte of the names it is given, so the services refuse them
// (InvalidRequest) instead of the library cutting them at the NUL on the way out.
TEST(TextFields, TheClientLibraryNeitherWritesNorReadsACutName) {
  ReaderCluster c;
  auto& cl = c.client();
  c.append_n("abc", "Opened", 2);  // what a cut "abc\0def" would name
  client::NewEvent e;
  e.type = "Opened";
  EXPECT_THROW(cl.append(kNulStream, ExpectedVersion::any(), {e}), client::InvalidRequest);
  client::NewEvent bad_type;
  bad_type.type = std::string("Opened\0x", 8);
  EXPECT_THROW(cl.append("abc", ExpectedVersion::any(), {bad_type}), client::InvalidRequest);
  EXPECT_EQ(stored_events(c), 2);

  EXPECT_THROW(cl.read_stream(kNulStream, StreamSeq(1)).to_vector(), client::InvalidRequest);
  EXPECT_THROW(cl.stream_version(kNulStream), client::InvalidRequest);
  EXPECT_THROW(cl.read_all(GlobalSeq(1), client::Filter{{kNulStream}, {}}).to_vector(), client::InvalidRequest);
  EXPECT_THROW(cl.read_all(GlobalSeq(1), client::Filter{{}, {std::string("Opened\0x", 8)}}).to_vector(),
               client::InvalidRequest);
  EXPECT_THROW(cl.read_projection(kNulStream, ProjectionSeq(1)).to_vector(), client::InvalidRequest);
  // The same names without the NUL still work.
  EXPECT_EQ(cl.read_stream("abc", StreamSeq(1)).to_vector().size(), 2u);
}

}  // namespace
}  // namespace even::test
