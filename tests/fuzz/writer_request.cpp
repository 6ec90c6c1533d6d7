// Fuzz target: a request frame as even-writer receives it on its ROUTER socket
// (WriterService::handle_message): wire::decode<WriterRequest>, the protocol version, then per
// request kind: ping, or validate_append, which turns an append into the AppendCommand the
// GroupCommitter would store. No socket, no store.
#include <variant>

#include "even/common/wire.h"
#include "fuzz_frame.h"
#include "writer/append_validation.h"
#include "writer/writer_service.h"

namespace {
const even::wire::Limits kSmallLimits{512, 16};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace even;
  static const writer::WriterOptions options;  // the service's defaults: limits, events per append
  if (size > kSmallLimits.max_message_bytes) {
    // The tooLarge path, as with a service configured for small requests: the error reply still
    // names the request id when it can be read (wire::peek_request_id).
    auto small = wire::decode<schema::WriterRequest>(fuzz::frame(data, size), kSmallLimits);
    if (!std::holds_alternative<wire::DecodeError>(small)) __builtin_trap();
  }
  auto decoded = wire::decode<schema::WriterRequest>(fuzz::frame(data, size), options.limits);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
    (void)wire::to_string(err->code);  // the error reply names the code
    return 0;
  }
  auto req = std::get<wire::Decoded>(decoded).root<schema::WriterRequest>();
  (void)req.getRequestId();
  if (req.getProtocolVersion() != schema::PROTOCOL_VERSION) return 0;  // unsupportedVersion
  switch (req.which()) {
    case schema::WriterRequest::DELETE_STREAM:
    case schema::WriterRequest::TRUNCATE_STREAM:
    case schema::WriterRequest::SET_STREAM_METADATA: {
      auto change = writer::validate_change(req);  // a lifecycle change, or why it is refused
      if (auto* cmd = std::get_if<writer::AppendCommand>(&change)) (void)cmd->change->kind;
      return 0;
    }
    case schema::WriterRequest::APPEND: break;
    default: return 0;  // ping, or an unknown kind
  }
  auto validated = writer::validate_append(req.getAppend(), options);
  if (auto* cmd = std::get_if<writer::AppendCommand>(&validated)) (void)cmd->payload_bytes();
  return 0;
}
