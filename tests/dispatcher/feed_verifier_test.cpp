// FeedVerifier and GapTracker against an in-memory store: feed claims are believed only where the
// store holds the same event, and refused claims neither publish nor make holes.
#include "dispatcher/feed_verifier.h"

#include <gtest/gtest.h>

#include "dispatcher/fake_gap_store.h"
#include "dispatcher/gap_tracker.h"

namespace even::dispatcher {
namespace {

using Clock = GapTracker::Clock;
using std::chrono::milliseconds;
using test::FakeGapStore;

FeedClaim claim(std::uint64_t seq, const std::string& stream = "fake-1", std::optional<EventId> id = std::nullopt) {
  return FeedClaim{GlobalSeq(seq), id ? id : FakeGapStore::id_of(seq), stream, 0};
}

std::vector<std::uint64_t> seqs(const std::vector<RecordedEvent>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(e.global_seq.value());
  return out;
}

TEST(FeedVerifierTest, BelievesOnlyClaimsTheStoreHoldsAndGoesOnWithTheStoresRows) {
  FakeGapStore store;
  for (std::uint64_t s = 1; s <= 5; ++s) store.commit(s);
  store.committed[3].payload = "stored";
  FeedVerifier verifier(store);
  auto v = verifier.verify({claim(3), claim(1), claim(2), claim(4), claim(5)});
  EXPECT_EQ(seqs(v.events), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(v.events[2].payload, "stored") << "the store's row, not the feed's";
  EXPECT_TRUE(v.refused.empty());
  EXPECT_EQ(store.range_reads, 1) << "one run, one read";
}

TEST(FeedVerifierTest, RefusesPositionsTheStoreDoesNotHoldAndEventsItHoldsElsewhere) {
  FakeGapStore store;
  for (std::uint64_t s = 1; s <= 4; ++s) store.commit(s, "real-1");
  FeedVerifier verifier(store);
  auto v = verifier.verify({
      claim(1, "real-1"),                          // believed
      claim(2, "real-1", EventId::random()),       // another event at 2: a forgery
      claim(3, "made-up-1"),                       // the stored id in another stream
      claim(4, "real-1", std::nullopt),            // believed
      claim(5, "real-1"),                          // beyond the head
      claim(1000, "real-1"),                       // far beyond it: its own run
      {GlobalSeq(4), std::nullopt, "real-1", 7},   // an id that is not 16 bytes
  });
  EXPECT_EQ(seqs(v.events), (std::vector<std::uint64_t>{1, 4}));
  ASSERT_EQ(v.refused.size(), 5u);
  EXPECT_EQ(v.refused[0].claim.global_seq, GlobalSeq(2));
  EXPECT_EQ(v.refused[0].reason, RefusalReason::different_event);
  EXPECT_EQ(v.refused[0].stored_id, FakeGapStore::id_of(2));
  EXPECT_EQ(v.refused[1].reason, RefusalReason::different_stream);
  EXPECT_EQ(v.refused[1].stored_stream, "real-1");
  EXPECT_EQ(v.refused[2].claim.global_seq, GlobalSeq(4));
  EXPECT_EQ(v.refused[2].reason, RefusalReason::different_event);
  EXPECT_EQ(v.refused[2].claim.sender, 7u);
  EXPECT_EQ(v.refused[3].reason, RefusalReason::absent);
  EXPECT_FALSE(v.refused[3].stored_id);
  EXPECT_EQ(v.refused[4].claim.global_seq, GlobalSeq(1000));
  EXPECT_EQ(v.refused[4].reason, RefusalReason::absent);
}

TEST(FeedVerifierTest, ADuplicateIsTheSameEventAgainAndComesBackOnce) {
  FakeGapStore store;
  store.commit(1);
  FeedVerifier verifier(store);
  auto v = verifier.verify({claim(1), claim(1), claim(1, "fake-1", EventId::random())});
  EXPECT_EQ(seqs(v.events), (std::vector<std::uint64_t>{1}));
  ASSERT_EQ(v.refused.size(), 1u);
  EXPECT_EQ(v.refused[0].reason, RefusalReason::different_event);
}

TEST(FeedVerifierTest, ScatteredPositionsAreReadInBoundedStatements) {
  FakeGapStore store;
  store.commit(1);
  FeedVerifier verifier(store);
  std::vector<FeedClaim> claims;
  for (std::uint64_t i = 0; i < 3 * FeedVerifier::kMaxRunsPerRead; ++i) claims.push_back(claim(1 + i * 1000));
  auto v = verifier.verify(claims);
  EXPECT_EQ(seqs(v.events), (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(v.refused.size(), claims.size() - 1);
  EXPECT_EQ(store.range_reads, 3);
  EXPECT_EQ(store.max_ranges_per_read, FeedVerifier::kMaxRunsPerRead);
  EXPECT_EQ(store.reads, static_cast<int>(claims.size())) << "no range spans the ids between runs";
}

// What the dispatcher does with a frame: verify, then give the tracker what the store holds.
class VerifiedFeedTest : public ::testing::Test {
 protected:
  VerifiedFeedTest()
      : verifier_(store_),
        tracker_(store_, options(), [this](const RecordedEvent& e) { published_.push_back(e); }, nullptr) {
    tracker_.reset(GlobalSeq(0));
  }
  static GapOptions options() {
    GapOptions o;
    o.gap_wait = milliseconds(3);
    o.hole_check = milliseconds(5);
    o.hole_settle = milliseconds(50);
    return o;
  }
  void feed(std::vector<FeedClaim> claims) {
    for (auto& e : verifier_.verify(std::move(claims)).events) tracker_.on_committed(std::move(e), now_);
  }
  void advance(milliseconds d) {
    for (auto end = now_ + d; now_ < end;) {
      now_ += milliseconds(1);
      for (int i = 0; i < 100; ++i) {
        auto due = tracker_.deadline();
        if (!due || *due > now_) break;
        tracker_.run_due(now_);
      }
    }
  }
  std::vector<std::uint64_t> published_seqs() const { return seqs(published_); }

  FakeGapStore store_;
  FeedVerifier verifier_;
  std::vector<RecordedEvent> published_;
  GapTracker tracker_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
};

TEST_F(VerifiedFeedTest, ForgedPositionsAheadOfTheStoreMakeNoHolesAndSkipNoLaterEvent) {
  store_.commit(1, "real-1");
  feed({claim(1, "real-1")});
  // Forged: the next positions and one far ahead, in made-up streams.
  feed({claim(2, "forged-1"), claim(3, "forged-1"), claim(1000, "forged-1")});
  advance(milliseconds(500));
  EXPECT_EQ(published_seqs(), (std::vector<std::uint64_t>{1}));
  EXPECT_FALSE(tracker_.in_gap());
  EXPECT_EQ(tracker_.stats().holes, 0u);
  // The real events at those positions commit later: each is published.
  for (std::uint64_t s = 2; s <= 1001; ++s) store_.commit(s, "real-2");
  std::vector<FeedClaim> real;
  for (std::uint64_t s = 2; s <= 1001; ++s) real.push_back(claim(s, "real-2"));
  feed(std::move(real));
  advance(milliseconds(10));
  ASSERT_EQ(published_.size(), 1001u);
  EXPECT_EQ(published_.back().global_seq, GlobalSeq(1001));
  for (const auto& e : published_) EXPECT_EQ(e.stream, e.global_seq.value() == 1 ? "real-1" : "real-2");
}

}  // namespace
}  // namespace even::dispatcher
