// Fuzz target: a reply frame as the client receives it from even-reader on its DEALER socket
// (RpcChannel's I/O thread): wire::decode<ReaderReply>, classify_reader_reply, then each
// converter a read call may apply to it: to_page (read_stream / read_all pages, EventStream),
// to_projection_page, to_stream_version and to_head. Each gives its value or throws the reader's
// error as the client's typed exception; any other exception escaping is a finding. No socket.
#include <variant>

#include "client_impl.h"
#include "even/client/errors.h"
#include "fuzz_frame.h"

namespace {

template <typename Convert>
void convert(even::wire::Decoded& d, Convert f) {
  try {
    (void)f(d);
  } catch (const even::client::Error&) {
    // the reader's error reply, or a reply of another kind, as the client's typed exception
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace even;
  static const wire::Limits limits;  // ClientOptions' default
  auto decoded = wire::decode<schema::ReaderReply>(fuzz::frame(data, size), limits);
  auto* d = std::get_if<wire::Decoded>(&decoded);
  if (!d) return 0;  // a malformed reply answers nothing
  auto info = client::classify_reader_reply(*d);
  if (info.retry) return 0;  // busy: resent
  // One reply goes to one converter; each starts here as on a freshly classified reply.
  convert(*d, [size](wire::Decoded& reply) {
    auto page = client::to_page(reply);
    if (page.events.size() > size / 8) __builtin_trap();  // each event takes a word of the frame at least
    return page;
  });
  d->reset_reader();
  convert(*d, client::to_projection_page);
  d->reset_reader();
  convert(*d, client::to_stream_version);
  d->reset_reader();
  convert(*d, client::to_head);
  return 0;
}
