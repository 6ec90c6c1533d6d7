#include "even/client/client.h"

#include <capnp/message.h>

#include <nlohmann/json.hpp>

#include "client_impl.h"
#include "even/schemas/writer.capnp.h"

namespace even::client {

ReplyInfo classify_writer_reply(wire::Decoded& d) {
  auto r = d.root<schema::WriterReply>();
  ReplyInfo info{r.getRequestId(), false, {}};
  if (r.isError()) {
    auto code = r.getError().getCode();
    info.retry = code == schema::ErrorCode::BUSY || code == schema::ErrorCode::UNAVAILABLE;
    if (info.retry) info.message = wire::to_string(code) + std::string(": ") + wire::text_string(r.getError().getMessage());
  }
  return info;
}

void set_expected(schema::ExpectedVersion::Builder ex, ExpectedVersion expected) {
  switch (expected.kind) {
    case ExpectedVersion::Kind::any: ex.setAny(); break;
    case ExpectedVersion::Kind::no_stream: ex.setNoStream(); break;
    case ExpectedVersion::Kind::exists: ex.setExists(); break;
    case ExpectedVersion::Kind::exact: ex.setExact(expected.version); break;
  }
}

AppendResult to_append_result(wire::Decoded& d) {
  auto r = d.root<schema::WriterReply>();
  if (r.isError()) {
    auto e = r.getError();
    throw_error(e.getCode(), wire::text_string(e.getMessage()), e.getCurrentVersion());
  }
  if (!r.isAppend()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from the writer");
  auto a = r.getAppend();
  return AppendResult{StreamSeq(a.getFirstStreamSeq()), StreamSeq(a.getLastStreamSeq()),
                      GlobalSeq(a.getFirstGlobalSeq()), GlobalSeq(a.getLastGlobalSeq()), a.getIdempotent()};
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }

namespace {

// Why `text` is not JSON (nlohmann's parse error, with the byte position), or empty when it is.
// One SAX pass that keeps nothing: no document is built, nesting costs no stack.
std::string json_error(const std::string& text) {
  using json = nlohmann::json;
  struct Checker final : nlohmann::json_sax<json> {
    std::string error;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
      error = e.what();
      return false;
    }
  } checker;
  if (!json::sax_parse(text, &checker) && checker.error.empty()) checker.error = "not valid JSON";
  return checker.error;
}

// Refuses, before anything is sent, an event declared JSON whose payload does not parse (an
// empty payload is allowed: an event without data).
void check_json_payloads(const std::vector<NewEvent>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.format != PayloadFormat::json || e.payload.empty()) continue;
    if (auto why = json_error(e.payload); !why.empty())
      throw InvalidRequest(ErrorCode::invalid_event,
                           "invalidEvent: event " + std::to_string(i) + " (" + e.type +
                               ") is declared JSON but its payload is not JSON (" + why +
                               "); send it as PayloadFormat::binary if it is not meant to be");
  }
}

// The encoded Append request and its request id; throws InvalidRequest when it is too large or
// a JSON payload does not parse.
std::pair<std::uint64_t, zmq::message_t> append_request(Client::Impl& impl, const std::string& stream,
                                                        ExpectedVersion expected, const std::vector<NewEvent>& events) {
  check_json_payloads(events);
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::WriterRequest>();
  const auto id = impl.writer.next_request_id();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(id);
  auto a = req.initAppend();
  a.setStream(wire::as_text(stream));
  set_expected(a.initExpected(), expected);
  auto list = a.initEvents(static_cast<unsigned>(events.size()));
  for (unsigned i = 0; i < events.size(); ++i) {
    wire::encode(events[i], list[i]);
  }
  auto frame = wire::encode(msg);
  if (frame.size() > impl.options.max_message_bytes)
    throw InvalidRequest(ErrorCode::too_large,
                         "tooLarge: append of " + std::to_string(frame.size()) + " bytes exceeds the limit of " +
                             std::to_string(impl.options.max_message_bytes));
  return {id, std::move(frame)};
}

}  // namespace

std::future<AppendResult> Client::append_async(const std::string& stream, ExpectedVersion expected,
                                               const std::vector<NewEvent>& events) {
  auto [id, frame] = append_request(*impl_, stream, expected, events);
  return impl_->writer.call_future<AppendResult>(id, std::move(frame), [impl = impl_.get()](wire::Decoded& d) {
    return impl->appended(to_append_result(d));
  });
}

void Client::append_async(const std::string& stream, ExpectedVersion expected, const std::vector<NewEvent>& events,
                          AppendHandler done) {
  auto [id, frame] = append_request(*impl_, stream, expected, events);
  impl_->writer.call(id, std::move(frame), [impl = impl_.get(), done = std::move(done)](wire::Decoded* reply,
                                                                                       std::exception_ptr error) {
    if (error) return done(nullptr, error);
    std::optional<AppendResult> result;
    try {
      result = impl->appended(to_append_result(*reply));
    } catch (...) {
      return done(nullptr, std::current_exception());
    }
    done(&*result, nullptr);
  });
}

AppendResult Client::append(const std::string& stream, ExpectedVersion expected, const std::vector<NewEvent>& events) {
  return append_async(stream, expected, events).get();
}

void Client::ping_writer(std::chrono::milliseconds timeout) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::WriterRequest>();
  const auto id = impl_->writer.next_request_id();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(id);
  req.setPing();
  impl_->writer
      .call_future<bool>(
          id, wire::encode(msg),
          [](wire::Decoded& d) {
            auto r = d.root<schema::WriterReply>();
            if (r.isError()) throw_error(r.getError().getCode(), wire::text_string(r.getError().getMessage()));
            return true;
          },
          timeout)
      .get();
}

}  // namespace even::client
