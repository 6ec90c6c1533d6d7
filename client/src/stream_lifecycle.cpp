// Client::delete_stream, truncate_stream, set_stream_metadata: the writer's lifecycle requests
// (schemas/writer.capnp). stream_info is in client_read.cpp, beside the reader's other requests.
#include <capnp/message.h>

#include "client_impl.h"
#include "even/client/client.h"
#include "even/schemas/writer.capnp.h"

namespace even::client {

namespace {

StreamState to_stream_state(wire::Decoded& d) {
  auto r = d.root<schema::WriterReply>();
  if (r.isError()) {
    auto e = r.getError();
    throw_error(e.getCode(), wire::text_string(e.getMessage()), e.getCurrentVersion());
  }
  if (!r.isLifecycle()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from the writer");
  return stream_state_of(r.getLifecycle());
}

// Sends one lifecycle request, filled by `fill`, and waits for the stream's state.
template <typename Fill>
StreamState call(Client::Impl& impl, Fill fill) {
  capnp::MallocMessageBuilder msg;
  auto req = msg.initRoot<schema::WriterRequest>();
  const auto id = impl.writer.next_request_id();
  req.setProtocolVersion(schema::PROTOCOL_VERSION);
  req.setRequestId(id);
  fill(req);
  return impl.writer.call_future<StreamState>(id, wire::encode(msg), to_stream_state).get();
}

}  // namespace

StreamState Client::delete_stream(const std::string& stream, bool hard, ExpectedVersion expected) {
  return call(*impl_, [&](schema::WriterRequest::Builder req) {
    auto r = req.initDeleteStream();
    r.setStream(wire::as_text(stream));
    set_expected(r.initExpected(), expected);
    r.setHard(hard);
  });
}

StreamState Client::truncate_stream(const std::string& stream, StreamSeq before, ExpectedVersion expected) {
  return call(*impl_, [&](schema::WriterRequest::Builder req) {
    auto r = req.initTruncateStream();
    r.setStream(wire::as_text(stream));
    set_expected(r.initExpected(), expected);
    r.setBefore(before.value());
  });
}

StreamState Client::set_stream_metadata(const std::string& stream, const StreamMetadata& metadata,
                                        ExpectedVersion expected) {
  // The wire spells "no limit" 0: a limit of 0 (or less) is refused here rather than read as none.
  if (metadata.max_count && *metadata.max_count < 1)
    throw InvalidRequest(ErrorCode::bad_range,
                         "badRange: max-count must be >= 1 (leave it unset for no limit), got " +
                             std::to_string(*metadata.max_count));
  if (metadata.max_age && metadata.max_age->count() < 1)
    throw InvalidRequest(ErrorCode::bad_range, "badRange: max-age must be > 0 (leave it unset for no limit), got " +
                                                   std::to_string(metadata.max_age->count()) + " us");
  return call(*impl_, [&](schema::WriterRequest::Builder req) {
    auto r = req.initSetStreamMetadata();
    r.setStream(wire::as_text(stream));
    set_expected(r.initExpected(), expected);
    r.setMaxCount(metadata.max_count.value_or(0));
    r.setMaxAgeUs(metadata.max_age ? metadata.max_age->count() : 0);
  });
}

}  // namespace even::client
