// fuzz_make_seeds OUT_DIR: writes the seed inputs of every fuzz target, each into
// OUT_DIR/<target>/, built with the same encoders as the client and the services (valid messages
// of every kind, plus a few that a decoder must refuse). The committed corpus in corpus/ started
// from these and grew by fuzzing (README.md).
#include <capnp/message.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "even/common/wire.h"

namespace {

using namespace even;
namespace fs = std::filesystem;

fs::path g_out;

void write(const std::string& target, const std::string& name, const void* data, std::size_t size) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream out(dir / ("seed-" + name), std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

void write(const std::string& target, const std::string& name, capnp::MessageBuilder& msg) {
  auto frame = wire::encode(msg);
  write(target, name, frame.data(), frame.size());
}

void write_text(const std::string& target, const std::string& name, const std::string& text) {
  write(target, name, text.data(), text.size());
}

NewEvent new_event(std::uint8_t id, std::string type, std::string payload, PayloadFormat format) {
  EventId event_id;
  std::array<std::uint8_t, EventId::kSize> bytes{};
  bytes[15] = id;
  event_id = EventId::from_bytes(bytes.data(), bytes.size()).value();
  return NewEvent{event_id, std::move(type), std::move(payload), "{\"correlation\":\"c1\"}", format};
}

RecordedEvent recorded(std::uint64_t global, std::string stream, std::int64_t seq, std::string type) {
  RecordedEvent e;
  e.global_seq = GlobalSeq(global);
  std::array<std::uint8_t, EventId::kSize> bytes{};
  bytes[0] = static_cast<std::uint8_t>(global);
  e.id = EventId::from_bytes(bytes.data(), bytes.size()).value();
  e.stream = std::move(stream);
  e.stream_seq = StreamSeq(seq);
  e.type = std::move(type);
  e.created_at_us = 1700000000000000;
  e.metadata = "{}";
  e.payload = "{\"amount\":" + std::to_string(global) + "}";
  e.format = PayloadFormat::json;
  return e;
}

void writer_requests() {
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::WriterRequest>();
    r.setProtocolVersion(schema::PROTOCOL_VERSION);
    r.setRequestId(1);
    r.setPing();
    write("writer_request", "ping", msg);
  }
  struct Case {
    const char* name;
    const char* stream;
    int expected;  // 0 any, 1 noStream, 2 exists, 3 exact
    std::vector<NewEvent> events;
  };
  std::vector<Case> cases = {
      {"append-one", "account-1", 0, {new_event(1, "Deposited", "{\"amount\":5}", PayloadFormat::json)}},
      {"append-nostream", "account-2", 1,
       {new_event(1, "Opened", "{}", PayloadFormat::json), new_event(2, "Deposited", "{\"amount\":1}", PayloadFormat::json),
        new_event(3, "Blob", std::string("\x00\x01\xff", 3), PayloadFormat::binary)}},
      {"append-exact", "order-7", 3, {new_event(9, "Shipped", "", PayloadFormat::binary)}},
      {"append-exists", "a", 2, {new_event(4, "T", "{}", PayloadFormat::json)}},
      {"append-bad-stream", "bad stream", 0, {new_event(1, "T", "{}", PayloadFormat::json)}},
      {"append-duplicate-ids", "s-1", 0, {new_event(1, "T", "{}", PayloadFormat::json), new_event(1, "T", "{}", PayloadFormat::json)}},
      {"append-no-events", "s-1", 0, {}},
  };
  for (const auto& c : cases) {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::WriterRequest>();
    r.setProtocolVersion(schema::PROTOCOL_VERSION);
    r.setRequestId(42);
    auto a = r.initAppend();
    a.setStream(c.stream);
    auto ex = a.initExpected();
    switch (c.expected) {
      case 0: ex.setAny(); break;
      case 1: ex.setNoStream(); break;
      case 2: ex.setExists(); break;
      default: ex.setExact(3); break;
    }
    auto list = a.initEvents(static_cast<unsigned>(c.events.size()));
    for (unsigned i = 0; i < c.events.size(); ++i) wire::encode(c.events[i], list[i]);
    write("writer_request", c.name, msg);
  }
}

void reader_requests() {
  auto make = [](const char* name, auto fill) {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::ReaderRequest>();
    r.setProtocolVersion(schema::PROTOCOL_VERSION);
    r.setRequestId(7);
    fill(r);
    write("reader_request", name, msg);
  };
  make("read-stream", [](schema::ReaderRequest::Builder r) {
    auto s = r.initReadStream();
    s.setStream("account-1");
    s.setFrom(1);
    s.setMaxCount(100);
  });
  make("read-stream-backward", [](schema::ReaderRequest::Builder r) {
    auto s = r.initReadStream();
    s.setStream("account-1");
    s.setFrom(-1);
    s.setDirection(schema::Direction::BACKWARD);
  });
  make("read-all", [](schema::ReaderRequest::Builder r) {
    auto a = r.initReadAll();
    a.setFrom(1);
    a.setMaxCount(500);
  });
  make("read-all-filtered", [](schema::ReaderRequest::Builder r) {
    auto a = r.initReadAll();
    a.setFrom(10);
    auto c = a.initCategories(2);
    c.set(0, "account");
    c.set(1, "order");
    auto t = a.initEventTypes(2);
    t.set(0, "Deposited");
    t.set(1, "Deposited");
  });
  make("read-projection", [](schema::ReaderRequest::Builder r) {
    auto p = r.initReadProjection();
    p.setName("big-deposits");
    p.setFrom(1);
  });
  make("stream-info", [](schema::ReaderRequest::Builder r) { r.initStreamInfo().setStream("account-1"); });
  make("head", [](schema::ReaderRequest::Builder r) { r.setHead(); });
}

void feed() {
  {
    capnp::MallocMessageBuilder msg;
    auto events = msg.initRoot<schema::CommittedBatch>().initEvents(3);
    wire::encode(recorded(1, "account-1", 1, "Opened"), events[0]);
    wire::encode(recorded(2, "account-1", 2, "Deposited"), events[1]);
    wire::encode(recorded(3, "order-9", 1, "Placed"), events[2]);
    write("dispatcher_feed", "batch-3", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    wire::encode(recorded(77, "a", 1, "T"), msg.initRoot<schema::CommittedBatch>().initEvents(1)[0]);
    write("dispatcher_feed", "batch-1", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto fe = msg.initRoot<schema::FeedMessage>().initEvent();
    wire::encode(recorded(5, "account-3", 2, "Withdrawn"), fe.initEvent());
    fe.setPrevGlobalSeq(4);
    fe.setPrevInCategory(2);
    write("client_feed", "event", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto hb = msg.initRoot<schema::FeedMessage>().initHeartbeat();
    hb.setHeadGlobalSeq(5);
    hb.setEpoch(0x1234);
    hb.setSeq(3);
    auto heads = hb.initCategoryHeads(2);
    heads[0].setCategory("account");
    heads[0].setGlobalSeq(5);
    heads[1].setCategory("order");
    heads[1].setGlobalSeq(3);
    hb.setCategoryHeadsComplete(true);
    write("client_feed", "heartbeat", msg);
  }
}

void replies() {
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::WriterReply>();
    r.setRequestId(42);
    auto a = r.initAppend();
    a.setFirstStreamSeq(1);
    a.setLastStreamSeq(3);
    a.setFirstGlobalSeq(10);
    a.setLastGlobalSeq(12);
    write("client_writer_reply", "append", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::WriterReply>();
    r.setRequestId(43);
    auto e = r.initError();
    e.setCode(schema::ErrorCode::WRONG_EXPECTED_VERSION);
    e.setMessage("stream account-1 is at version 4");
    e.setCurrentVersion(4);
    write("client_writer_reply", "error", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::WriterReply>();
    r.setRequestId(44);
    r.setPong();
    write("client_writer_reply", "pong", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::ReaderReply>();
    r.setRequestId(7);
    auto p = r.initPage();
    auto events = p.initEvents(2);
    wire::encode(recorded(1, "account-1", 1, "Opened"), events[0]);
    wire::encode(recorded(2, "account-1", 2, "Deposited"), events[1]);
    p.setEnd(true);
    p.setNextStreamSeq(3);
    p.setNextGlobalSeq(3);
    p.setHead(2);
    write("client_reader_reply", "page", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::ReaderReply>();
    r.setRequestId(8);
    auto e = r.initError();
    e.setCode(schema::ErrorCode::NOT_FOUND);
    e.setMessage("stream 'x' does not exist");
    write("client_reader_reply", "error", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::ReaderReply>();
    r.setRequestId(9);
    auto si = r.initStreamInfo();
    si.setExists(true);
    si.setVersion(12);
    write("client_reader_reply", "stream-info", msg);
  }
  {
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::ReaderReply>();
    r.setRequestId(10);
    r.setHead(123456);
    write("client_reader_reply", "head", msg);
  }
}

void projector_configs() {
  write_text("projector_config", "bank", R"json({
  // the bank example's read model
  "projections": [
    { "name": "balances",
      "categories": ["account"],
      "version": 2,
      "setup": ["CREATE TABLE IF NOT EXISTS balances (account VARCHAR(200) PRIMARY KEY, amount BIGINT)"],
      "reset": ["DROP TABLE IF EXISTS balances"],
      "events": {
        "Deposited": "INSERT INTO balances VALUES (:stream, :payload.amount) ON DUPLICATE KEY UPDATE amount = amount + VALUES(amount)",
        "Withdrawn": ["UPDATE balances SET amount = amount - :payload.amount WHERE account = :stream"]
      } } ],
  "projection_streams": [
    { "name": "big-deposits", "categories": ["account"], "event_types": ["Deposited"] } ]
})json");
  write_text("projector_config", "streams-only",
             R"json({"projection_streams": [{"name": "orders", "categories": "order"}, {"name": "t", "event_types": ["A", "B"]}]})json");
  write_text("projector_config", "database",
             R"json({"projections": [{"name": "p", "database": "even_query", "reset": "DELETE FROM t", "events": {"E": "INSERT INTO t VALUES (:global_seq, :metadata.x, :type)"}}]})json");
  write_text("projector_config", "empty", "{}");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  writer_requests();
  reader_requests();
  feed();
  replies();
  projector_configs();
  return 0;
}
