// The dispatcher's feed topics (schemas/README.md, "Feed"): defined here once, for the dispatcher
// that publishes (FeedPublisher) and the subscribers that filter at the socket
// (client::CatchUpSubscription). Each PUB message is a topic frame, then one FeedMessage frame.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "even/common/types.h"

namespace even::feed {

// Events: "ev|<category>|". Subscribe to the prefix "ev|" for every event, to event_topic(c) for
// one category: category names cannot contain '|' (stream name rules), so the match is exact.
inline constexpr std::string_view kEventTopicPrefix = "ev|";
// Heartbeats.
inline constexpr std::string_view kHeartbeatTopic = "hb|";

inline std::string event_topic(std::string_view category) {
  std::string topic(kEventTopicPrefix);
  topic.append(category);
  topic.push_back('|');
  return topic;
}

// The largest subscription message the dispatcher's PUB accepts (ZMQ_MAXMSGSIZE on the PUB, which
// limits only what subscribers send): the subscribe byte and the longest topic, "ev|" + a category
// (a stream name's prefix) + "|". libzmq drops a subscriber that sends more. Without it, one 4 MiB
// subscription grew the dispatcher by 400 MB: libzmq keeps subscriptions in a trie of one node per
// byte (tests/security).
inline constexpr std::int64_t kMaxSubscriptionBytes =
    1 + static_cast<std::int64_t>(kEventTopicPrefix.size() + kMaxStreamNameBytes + 1);

// With CURVE the same limit also applies to the handshake's commands (libzmq decodes them with the
// socket's ZMQ_MAXMSGSIZE), and a SUB's INITIATE is about 270 bytes (cookie, vouch box, metadata),
// so a CURVE PUB allows this much; only subscribers whose key is listed get this far.
inline constexpr std::int64_t kMaxCurveSubscriberMessageBytes = 1024;

}  // namespace even::feed
