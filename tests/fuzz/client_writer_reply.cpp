// Fuzz target: a reply frame as the client receives it from even-writer on its DEALER socket
// (RpcChannel's I/O thread): wire::decode<WriterReply>, classify_writer_reply (request id,
// retry?), then to_append_result, which gives the AppendResult or throws the writer's error as
// the client's typed exception. Any other exception escaping is a finding. No socket.
#include <variant>

#include "client_impl.h"
#include "even/client/errors.h"
#include "fuzz_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace even;
  static const wire::Limits limits;  // ClientOptions' default
  auto decoded = wire::decode<schema::WriterReply>(fuzz::frame(data, size), limits);
  auto* d = std::get_if<wire::Decoded>(&decoded);
  if (!d) return 0;  // a malformed reply answers nothing
  auto info = client::classify_writer_reply(*d);
  if (info.retry) return 0;  // busy / unavailable: resent
  try {
    auto r = client::to_append_result(*d);
    (void)(r.first_global_seq.value() + r.last_global_seq.value());
  } catch (const client::Error&) {
    // the writer's error reply, as the client's typed exception
  }
  return 0;
}
