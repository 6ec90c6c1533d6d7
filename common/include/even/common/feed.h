// The dispatcher's feed topics (schemas/README.md, "Feed"): defined here once, for the dispatcher
// that publishes (FeedPublisher) and the subscribers that filter at the socket
// (client::CatchUpSubscription). Each PUB message is a topic frame, then one FeedMessage frame.
#pragma once

#include <string>
#include <string_view>

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

}  // namespace even::feed
