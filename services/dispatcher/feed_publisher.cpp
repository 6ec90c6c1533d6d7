#include "dispatcher/feed_publisher.h"

#include <capnp/message.h>

#include "even/common/feed.h"
#include "even/common/wire.h"
#include "even/schemas/feed.capnp.h"

namespace even::dispatcher {

FeedPublisher::FeedPublisher(zmq::socket_t& pub, GapStore& store, PublisherOptions options)
    : pub_(pub), store_(store), options_(options), epoch_(std::random_device{}() | (std::uint64_t(std::random_device{}()) << 32)) {}

void FeedPublisher::reset(GlobalSeq head) {
  last_ = head.value();
  last_in_category_.clear();
}

void FeedPublisher::publish(const RecordedEvent& e) {
  const std::string category(category_of(e.stream));
  std::uint64_t prev_in_category;
  auto it = last_in_category_.find(category);
  if (it != last_in_category_.end()) {
    prev_in_category = it->second;
  } else {
    // Not seen since start (or evicted): the store knows, since everything below e is final.
    prev_in_category = store_.last_in_category(category, e.global_seq).value();
    if (last_in_category_.size() >= options_.max_known_categories) last_in_category_.clear();
  }

  capnp::MallocMessageBuilder msg;
  auto fe = msg.initRoot<schema::FeedMessage>().initEvent();
  wire::encode(e, fe.initEvent());
  fe.setPrevGlobalSeq(last_);
  fe.setPrevInCategory(prev_in_category);

  last_ = e.global_seq.value();
  last_in_category_[category] = last_;
  if (moved_since_heartbeat_.size() < options_.max_category_heads || moved_since_heartbeat_.count(category))
    moved_since_heartbeat_[category] = last_;
  else
    moved_overflow_ = true;
  ++stats_.events;

  if (options_.test_drop_every > 0 && stats_.events % options_.test_drop_every == 0) {
    ++stats_.test_dropped;
    return;
  }
  // PUB never blocks: at a subscriber's HWM ZeroMQ drops that subscriber's copy, and the
  // subscriber sees the gap in the prev pointers and catches up from the reader.
  if (!wire::send_with_topic(pub_, feed::event_topic(category), msg)) ++stats_.dropped;
}

void FeedPublisher::heartbeat() {
  capnp::MallocMessageBuilder msg;
  auto hb = msg.initRoot<schema::FeedMessage>().initHeartbeat();
  hb.setHeadGlobalSeq(last_);
  hb.setEpoch(epoch_);
  hb.setSeq(++heartbeat_seq_);
  auto heads = hb.initCategoryHeads(static_cast<unsigned>(moved_since_heartbeat_.size()));
  unsigned i = 0;
  for (const auto& [category, seq] : moved_since_heartbeat_) {
    heads[i].setCategory(category);
    heads[i].setGlobalSeq(seq);
    ++i;
  }
  hb.setCategoryHeadsComplete(!moved_overflow_);
  moved_since_heartbeat_.clear();
  moved_overflow_ = false;
  ++stats_.heartbeats;
  if (!wire::send_with_topic(pub_, feed::kHeartbeatTopic, msg)) ++stats_.dropped;
}

}  // namespace even::dispatcher
