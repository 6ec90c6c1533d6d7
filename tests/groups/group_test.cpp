// Group (services/groups/group.h) in memory: what goes to whom, in which order, and when the
// checkpoint moves.
#include "groups/group.h"

#include <gtest/gtest.h>

namespace even::groups {
namespace {

using namespace std::chrono_literals;

RecordedEvent event(std::uint64_t seq, const std::string& stream, std::int64_t stream_seq) {
  RecordedEvent e;
  e.global_seq = GlobalSeq(seq);
  e.stream = stream;
  e.stream_seq = StreamSeq(stream_seq);
  e.type = "T";
  return e;
}

struct Fixture {
  explicit Fixture(Ordering ordering = Ordering::per_stream, std::uint32_t max_retries = 2) {
    GroupSettings s;
    s.ordering = ordering;
    s.max_retries = max_retries;
    s.ack_timeout = 1000ms;
    s.max_in_flight = 10;
    group = std::make_unique<Group>("g", s, GlobalSeq(0), 0, 0, 100, &next_id);
  }
  // consumer -> global seqs handed to it, with their delivery ids in `ids`.
  std::map<std::string, std::vector<std::uint64_t>> dispatch(Clock::time_point now) {
    std::map<std::string, std::vector<std::uint64_t>> out;
    for (auto& [c, batch] : group->dispatch(now))
      for (auto& d : batch) {
        out[c].push_back(d.event->global_seq.value());
        ids[d.event->global_seq.value()] = d.id;
      }
    return out;
  }
  DeliveryId next_id = 1;
  std::unique_ptr<Group> group;
  std::map<std::uint64_t, DeliveryId> ids;
};

TEST(Group, PerStreamHandsOutOneEventOfAStreamAtATimeInOrder) {
  Fixture f;
  const auto t = Clock::now();
  f.group->add(event(1, "a", 1));
  f.group->add(event(2, "b", 1));
  f.group->add(event(3, "a", 2));
  f.group->subscribe("c1", 0, t);
  f.group->subscribe("c2", 0, t);
  auto d = f.dispatch(t);
  std::vector<std::uint64_t> given;
  for (auto& [c, seqs] : d) given.insert(given.end(), seqs.begin(), seqs.end());
  std::sort(given.begin(), given.end());
  EXPECT_EQ(given, (std::vector<std::uint64_t>{1, 2}));  // a's second waits for its first
  EXPECT_TRUE(f.dispatch(t).empty());
  EXPECT_TRUE(f.group->ack(d.count("c1") && d["c1"][0] == 1 ? "c1" : "c2", {f.ids[1]}).empty());
  d = f.dispatch(t);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d.begin()->second, std::vector<std::uint64_t>{3});
  EXPECT_EQ(f.group->checkpoint(), GlobalSeq(1));  // 2 is still in flight
}

TEST(Group, UnackedEventsTimeOutAndGoToAnotherConsumer) {
  Fixture f;
  const auto t = Clock::now();
  f.group->add(event(1, "a", 1));
  f.group->subscribe("c1", 0, t);
  f.group->subscribe("c2", 0, t);
  auto d = f.dispatch(t);
  ASSERT_EQ(d.size(), 1u);
  const std::string first = d.begin()->first;
  f.group->expire(t + 999ms);
  EXPECT_TRUE(f.dispatch(t).empty());
  f.group->expire(t + 1000ms);
  d = f.dispatch(t + 1000ms);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d.begin()->first, first);
  EXPECT_EQ(f.group->counters().redelivered, 1u);
  // The late ack of the first delivery is refused; the new one settles it.
  const std::string second = d.begin()->first;
  EXPECT_EQ(f.group->ack(first, {1}).size(), 1u);
  EXPECT_TRUE(f.group->ack(second, {f.ids[1]}).empty());
  EXPECT_EQ(f.group->checkpoint(), GlobalSeq(1));
}

TEST(Group, AfterMaxRetriesAnEventIsParkedAndSettledOnlyOnceItsCopyIsAppended) {
  Fixture f(Ordering::per_stream, /*max_retries=*/1);
  const auto t = Clock::now();
  f.group->add(event(1, "a", 1));
  f.group->add(event(2, "a", 2));
  f.group->subscribe("c", 0, t);
  for (int i = 0; i < 2; ++i) {
    auto d = f.dispatch(t);
    ASSERT_EQ(d["c"], std::vector<std::uint64_t>{1});
    EXPECT_TRUE(f.group->nack("c", {f.ids[1]}, NackAction::retry, "no").empty());
  }
  auto parks = f.group->take_to_park();
  ASSERT_EQ(parks.size(), 1u);
  EXPECT_EQ(parks[0].key, 1u);
  EXPECT_TRUE(f.dispatch(t).empty());  // the stream waits while its first event is being parked
  const EventId copy_id = parks[0].copy_id;
  f.group->park_failed(false, 1);
  parks = f.group->take_to_park();
  ASSERT_EQ(parks.size(), 1u);
  EXPECT_EQ(parks[0].copy_id, copy_id);  // the same copy again: the writer dedupes a retried append
  f.group->park_done(false, 1);
  EXPECT_EQ(f.group->checkpoint(), GlobalSeq(1));
  EXPECT_EQ(f.dispatch(t)["c"], std::vector<std::uint64_t>{2});
}

TEST(Group, ParkingIsTakenInPiecesByCountAndBytesAndALongReasonIsCut) {
  Fixture f(Ordering::unordered, /*max_retries=*/0);
  const auto t = Clock::now();
  for (std::uint64_t i = 1; i <= 5; ++i) {
    auto e = event(i, "s" + std::to_string(i), 1);
    e.payload.assign(i == 3 ? 5000 : 100, 'x');
    f.group->add(std::move(e));
  }
  f.group->subscribe("c", 0, t);
  auto d = f.dispatch(t);
  std::vector<DeliveryId> all;
  for (auto& [seq, id] : f.ids) all.push_back(id);
  EXPECT_TRUE(f.group->nack("c", all, NackAction::park, std::string(1u << 20, 'r')).empty());
  auto a = f.group->take_to_park(2, SIZE_MAX);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_LE(a[0].reason.size(), kMaxParkReasonBytes + 50);
  auto b = f.group->take_to_park(SIZE_MAX, 3000);  // event 3 alone is above the bytes: taken alone
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].key, 3u);
  auto rest = f.group->take_to_park(SIZE_MAX, SIZE_MAX);
  EXPECT_EQ(rest.size(), 2u);
  EXPECT_FALSE(f.group->has_to_park());
  EXPECT_NE(a[0].copy_id, a[1].copy_id);
}

TEST(Group, AConsumerThatGoesAwayGivesBackWhatItHeld) {
  Fixture f(Ordering::unordered);
  const auto t = Clock::now();
  for (std::uint64_t i = 1; i <= 4; ++i) f.group->add(event(i, "s" + std::to_string(i), 1));
  f.group->subscribe("c1", 0, t);
  auto d = f.dispatch(t);
  EXPECT_EQ(d["c1"].size(), 4u);
  f.group->subscribe("c2", 0, t + 5s);
  EXPECT_EQ(f.group->remove_silent(t + 1s), std::vector<std::string>{"c1"});
  d = f.dispatch(t + 5s);
  EXPECT_EQ(d["c2"].size(), 4u);
  EXPECT_EQ(f.group->ack("c1", {f.ids[1]}).size(), 1u);  // gone: refused
}

TEST(Group, NamesAndSettingsAreChecked) {
  EXPECT_EQ(validate_group_name("billing.v2"), "");
  EXPECT_NE(validate_group_name(""), "");
  EXPECT_NE(validate_group_name("a-b"), "");
  GroupSettings s;
  EXPECT_EQ(validate_settings(s), "");
  s.max_in_flight = 0;
  EXPECT_NE(validate_settings(s), "");
  s = {};
  s.source = SourceKind::stream;
  EXPECT_NE(validate_settings(s), "");  // no stream named
  s.value = "$system";
  EXPECT_NE(validate_settings(s), "");
  // The parked streams and copies are never a source (a group would park its own copies again).
  s.value = "parked-billing";
  EXPECT_NE(validate_settings(s), "");
  s.source = SourceKind::category;
  s.value = "parked";
  EXPECT_NE(validate_settings(s), "");
  s.source = SourceKind::event_type;
  s.value = std::string(kParkedEventType);
  EXPECT_NE(validate_settings(s), "");
}

}  // namespace
}  // namespace even::groups
