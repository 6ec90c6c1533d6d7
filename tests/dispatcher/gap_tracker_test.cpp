// GapTracker against an in-memory store: ordering, gap reads, holes and late commits.
#include "dispatcher/gap_tracker.h"

#include <gtest/gtest.h>

#include "dispatcher/fake_gap_store.h"

namespace even::dispatcher {
namespace {

using Clock = GapTracker::Clock;
using std::chrono::milliseconds;

class GapTrackerTest : public ::testing::Test {
 protected:
  GapTrackerTest() : tracker_(store_, options(), [this](const RecordedEvent& e) { published_.push_back(e.global_seq.value()); }, nullptr) {
    tracker_.reset(GlobalSeq(0));
  }
  static GapOptions options() {
    GapOptions o;
    o.gap_wait = milliseconds(3);
    o.hole_check = milliseconds(5);
    o.hole_safety = milliseconds(1000);
    o.hole_settle = milliseconds(50);
    o.read_batch = 4;  // small, so paging is exercised
    return o;
  }
  // The writer committed `seq` and pushed it.
  void push(std::uint64_t seq) {
    store_.commit(seq);
    tracker_.on_committed(store_.committed[seq], now_);
  }
  // Lets time pass in steps, running what is due.
  void advance(milliseconds d) {
    auto end = now_ + d;
    while (now_ < end) {
      now_ += milliseconds(1);
      for (int i = 0; i < 100; ++i) {
        auto due = tracker_.deadline();
        if (!due || *due > now_) break;
        tracker_.run_due(now_);
      }
    }
  }

  test::FakeGapStore store_;
  std::vector<std::uint64_t> published_;
  GapTracker tracker_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
};

TEST_F(GapTrackerTest, PublishesInOrderAndHoldsLaterEventsUntilTheGapFills) {
  push(1);
  push(3);
  push(4);
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(tracker_.in_gap());
  push(2);  // arrives late on the wire, within the wait
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_FALSE(tracker_.in_gap());
  EXPECT_EQ(store_.reads, 0);  // no store read needed
  push(2);
  EXPECT_EQ(tracker_.stats().duplicates, 1u);
}

TEST_F(GapTrackerTest, ReadsTheStoreForEventsThatNeverArrived) {
  for (std::uint64_t s = 1; s <= 10; ++s) store_.commit(s);  // committed, the pushes were lost
  push(11);
  EXPECT_TRUE(published_.empty());
  advance(milliseconds(2));
  EXPECT_TRUE(published_.empty()) << "must wait gap_wait before reading";
  advance(milliseconds(5));
  std::vector<std::uint64_t> all;  // all committed: no hole rule needed
  for (std::uint64_t s = 1; s <= 11; ++s) all.push_back(s);
  EXPECT_EQ(published_, all);
  EXPECT_EQ(tracker_.stats().holes, 0u);
}

TEST_F(GapTrackerTest, SkipsARolledBackIdOnlyAfterItsTransactionEnded) {
  push(1);
  store_.begin(2);  // another connection holds id 2
  push(3);
  advance(milliseconds(200));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1})) << "id 2 may still commit";
  store_.rollback(2);
  advance(milliseconds(10));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(tracker_.stats().holes, 1u);
}

TEST_F(GapTrackerTest, NeverSkipsAnIdThatCommitsLate) {
  push(1);
  store_.begin(2);
  push(3);
  push(4);
  advance(milliseconds(500));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1}));
  store_.commit(2);  // commits without a push (e.g. another process)
  advance(milliseconds(20));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(tracker_.stats().holes, 0u);
}

TEST_F(GapTrackerTest, AHoleIsNotDeclaredBeforeTheSettleTime) {
  push(1);
  store_.begin(2, /*inserted=*/false);  // id taken, row not inserted yet: the lock check cannot see it
  push(3);
  advance(milliseconds(40));
  store_.commit(2);  // the statement finishes and commits within the settle time
  advance(milliseconds(100));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(tracker_.stats().holes, 0u);
}

TEST_F(GapTrackerTest, OpenTransactionsOutsideTheGapDoNotHoldIt) {
  push(1);
  push(3);  // 2 rolled back long ago
  store_.begin(100);  // an unrelated open transaction above the gap
  advance(milliseconds(120));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 3}));
}

TEST_F(GapTrackerTest, ManyHolesAndPagesResolveInOrder) {
  std::vector<std::uint64_t> expected;
  for (std::uint64_t s = 1; s <= 40; ++s)
    if (s % 3 != 0) {
      store_.commit(s);
      expected.push_back(s);
    }
  tracker_.on_store_head(store_.head(), now_);
  advance(milliseconds(200));
  EXPECT_EQ(published_, expected);
  EXPECT_EQ(tracker_.stats().holes, 13u);
}

TEST_F(GapTrackerTest, FallsBackToTheTimeRuleWhenTransactionsCannotBeListed) {
  store_.can_check_locks = false;
  push(1);
  push(3);
  advance(milliseconds(900));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1}));
  advance(milliseconds(200));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 3}));
}

TEST_F(GapTrackerTest, AStoreErrorIsRetriedWithoutLosingAnything) {
  store_.commit(1);
  store_.commit(2);
  push(3);
  store_.fail_next = true;
  now_ += milliseconds(10);
  EXPECT_THROW(tracker_.run_due(now_), sql::SQLException);
  advance(milliseconds(10));
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(GapTrackerTest, ResumesAboveTheGivenPosition) {
  for (std::uint64_t s = 1; s <= 5; ++s) store_.commit(s);
  tracker_.reset(GlobalSeq(5));
  push(6);
  push(4);  // old, ignored
  EXPECT_EQ(published_, (std::vector<std::uint64_t>{6}));
}

}  // namespace
}  // namespace even::dispatcher
