// Fuzz target: the message frame of a dispatcher PUB message as a CatchUpSubscription reads it
// (client/src/subscription.cpp): wire::decode<FeedMessage>, then every read the subscription
// makes of an event (wire::decode into a RecordedEvent, the prev pointers) or of a heartbeat
// (head, epoch, seq, each category head). The topic frame is matched by libzmq's SUB filter and
// not read by the client, so one input is the message frame. No socket.
#include <variant>

#include "even/common/wire.h"
#include "fuzz_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace even;
  static const wire::Limits limits;  // SubscriptionOptions' default
  auto decoded = wire::decode<schema::FeedMessage>(fuzz::frame(data, size), limits);
  auto* d = std::get_if<wire::Decoded>(&decoded);
  if (!d) return 0;
  auto msg = d->root<schema::FeedMessage>();
  if (msg.isEvent()) {
    auto fe = msg.getEvent();
    (void)fe.getEvent().getGlobalSeq();
    (void)fe.getPrevInCategory();
    (void)fe.getPrevGlobalSeq();
    RecordedEvent e = wire::decode(fe.getEvent());
    (void)category_of(e.stream);  // the subscription's filter (Impl::matches)
  } else if (msg.isHeartbeat()) {
    auto hb = msg.getHeartbeat();
    (void)hb.getHeadGlobalSeq();
    (void)(hb.getEpoch() + hb.getSeq() + hb.getCategoryHeadsComplete());
    std::uint64_t category_head = 0;
    for (auto ch : hb.getCategoryHeads())
      if (wire::text_view(ch.getCategory()) == "account") category_head = ch.getGlobalSeq();
    (void)category_head;
  }
  return 0;
}
