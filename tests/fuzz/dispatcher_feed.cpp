// Fuzz target: a frame as even-dispatcher receives it on its feed's PULL socket
// (DispatcherService::receive_batches): decode_claims, which decodes a CommittedBatch and turns
// its events into the claims the FeedVerifier checks against the store. A multipart message is
// dropped by the service before any decoding, so one input is one frame. No socket, no store.
#include <vector>

#include "dispatcher/feed_verifier.h"
#include "fuzz_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace even;
  static const wire::Limits limits;  // DispatcherOptions' default
  std::vector<dispatcher::FeedClaim> claims;
  if (auto err = dispatcher::decode_claims(fuzz::frame(data, size), limits, 0, claims)) {
    if (!claims.empty()) __builtin_trap();  // an error leaves `out` unchanged
    return 0;
  }
  // Each event takes at least a word of the frame: a small frame cannot claim millions of events
  // (it did, before wire::validate refused lists of structs smaller than a word).
  if (claims.size() > size / 8) __builtin_trap();
  for (const auto& c : claims) (void)(c.event_id ? c.event_id->to_string() : c.stream);
  return 0;
}
