// Fuzz target: a request frame as a ReadWorker of even-reader receives it (ReadWorker::handle,
// then serve): wire::decode<ReaderRequest>, the protocol version, then per request kind the
// check that turns it into its store query (stream_query, all_query, projection_query,
// check_stream; head has none). The store is not read. No socket.
#include <variant>

#include "even/common/wire.h"
#include "fuzz_frame.h"
#include "reader/read_request.h"
#include "reader/read_worker.h"

namespace {
const even::wire::Limits kSmallLimits{512, 16};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace even;
  using namespace even::reader;
  static const WorkerOptions options;  // the service's defaults: request limits, filter values
  if (size > kSmallLimits.max_message_bytes) {
    // The tooLarge path, as with a service configured for small requests: the error reply still
    // names the request id when it can be read (wire::peek_request_id).
    auto small = wire::decode<schema::ReaderRequest>(fuzz::frame(data, size), kSmallLimits);
    if (!std::holds_alternative<wire::DecodeError>(small)) __builtin_trap();
  }
  auto decoded = wire::decode<schema::ReaderRequest>(fuzz::frame(data, size), options.limits);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
    (void)wire::to_string(err->code);  // the error reply names the code
    return 0;
  }
  auto req = std::get<wire::Decoded>(decoded).root<schema::ReaderRequest>();
  (void)req.getRequestId();
  if (req.getProtocolVersion() != schema::PROTOCOL_VERSION) return 0;  // unsupportedVersion
  switch (req.which()) {
    case schema::ReaderRequest::READ_STREAM: {
      auto r = req.getReadStream();
      auto q = stream_query(r);
      if (auto* ok = std::get_if<StreamPageQuery>(&q)) (void)(ok->stream.size() + r.getMaxCount());
      break;
    }
    case schema::ReaderRequest::READ_ALL: {
      auto r = req.getReadAll();
      auto q = all_query(r, options.max_filter_values);
      if (auto* ok = std::get_if<AllPageQuery>(&q)) (void)(ok->categories.size() + r.getMaxCount());
      break;
    }
    case schema::ReaderRequest::READ_PROJECTION: {
      auto r = req.getReadProjection();
      auto q = projection_query(r);
      if (auto* ok = std::get_if<ProjectionPageQuery>(&q)) (void)(ok->name.size() + r.getMaxCount());
      break;
    }
    case schema::ReaderRequest::STREAM_INFO:
      (void)check_stream(wire::text_string(req.getStreamInfo().getStream()));
      break;
    default: break;  // head, or an unknown kind (refused)
  }
  return 0;
}
