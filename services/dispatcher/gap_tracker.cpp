#include "dispatcher/gap_tracker.h"

#include <algorithm>

namespace even::dispatcher {

GapTracker::GapTracker(GapStore& store, GapOptions options, Publish publish, std::shared_ptr<spdlog::logger> log)
    : store_(store), options_(options), publish_(std::move(publish)), log_(std::move(log)) {}

void GapTracker::reset(GlobalSeq published) {
  next_ = published.value() + 1;
  known_committed_ = published.value();
  pending_.clear();
  gap_since_.reset();
  proof_.reset();
}

void GapTracker::on_committed(RecordedEvent event, Clock::time_point now) {
  const std::uint64_t seq = event.global_seq.value();
  if (seq < next_ || pending_.count(seq)) {
    ++stats_.duplicates;
    return;
  }
  known_committed_ = std::max(known_committed_, seq);
  if (seq == next_ || pending_.size() < options_.max_pending) pending_.emplace(seq, std::move(event));
  // else: dropped for memory; it is committed (known_committed_ covers it), a store read finds it.
  drain();
  update_gap(now, false);
}

void GapTracker::on_store_head(GlobalSeq head, Clock::time_point now) {
  if (head.value() < next_) return;
  known_committed_ = std::max(known_committed_, head.value());
  update_gap(now, true);
}

void GapTracker::drain() {
  while (!pending_.empty() && pending_.begin()->first <= next_) {
    auto it = pending_.begin();
    if (it->first == next_) {
      publish_(it->second);  // may throw: the event stays pending
      ++stats_.published;
      ++next_;
    } else {
      ++stats_.duplicates;
    }
    pending_.erase(it);
  }
}

void GapTracker::update_gap(Clock::time_point now, bool urgent) {
  if (!in_gap()) {
    gap_since_.reset();
    proof_.reset();
    return;
  }
  if (!gap_since_) {
    gap_since_ = now;
    ++stats_.gaps;
    // The writer pushes in commit order, so a missing event is usually just late on the wire;
    // give it gap_wait. Events found by polling the store are not coming through the wire.
    next_read_ = urgent ? now : now + options_.gap_wait;
  } else if (urgent) {
    next_read_ = std::min(next_read_, now);
  }
}

std::optional<GapTracker::Clock::time_point> GapTracker::deadline() const {
  if (!in_gap()) return std::nullopt;
  return next_read_;
}

std::optional<std::uint64_t> GapTracker::read_store(std::uint64_t from, std::uint64_t to) {
  from = std::max(from, next_);
  if (to < from) return std::nullopt;
  auto rows = store_.read_range(GlobalSeq(from), GlobalSeq(to), options_.read_batch);
  std::optional<std::uint64_t> more;
  if (rows.size() >= options_.read_batch) more = rows.back().global_seq.value() + 1;
  for (auto& e : rows) {
    const auto seq = e.global_seq.value();
    if (seq < next_ || pending_.count(seq)) continue;
    ++stats_.from_store;
    pending_.emplace(seq, std::move(e));
  }
  drain();
  return more;
}

void GapTracker::run_due(Clock::time_point now) {
  if (in_gap() && now >= next_read_) resolve(now);
  if (!in_gap()) {
    gap_since_.reset();
    proof_.reset();
  }
}

void GapTracker::resolve(Clock::time_point now) {
  // 1. What the store has now below the first pending event (a long gap, e.g. after a restart,
  //    is read in pages; each page is published before the next is read).
  drain();  // events kept after a failed publish go first
  if (!in_gap()) return;
  if (proof_ && next_ > proof_->upto) proof_.reset();
  const std::uint64_t bound = pending_.empty() ? known_committed_ : pending_.begin()->first - 1;
  if (read_store(next_, bound)) {
    next_read_ = now;  // more to read: come back at once (the caller polls its sockets in between)
    return;
  }
  if (!in_gap()) return;
  if (proof_ && next_ > proof_->upto) proof_.reset();

  // 2. next_ is missing while a later id is committed (the hole rule in gap_tracker.h).
  if (!proof_) {
    constexpr std::uint64_t kMaxRange = 10000;  // bounds the locking read
    proof_ = Proof{std::min(known_committed_, next_ + kMaxRange), now};
  }
  bool decided = false;
  if (now - proof_->started >= options_.hole_settle) {
    if (auto locked = store_.uncommitted_in(GlobalSeq(next_), GlobalSeq(proof_->upto))) {
      decided = !*locked;
    } else {
      decided = now - proof_->started >= options_.hole_safety;
    }
  }
  if (!decided) {
    if (!proof_->reported && now - proof_->started >= std::chrono::seconds(2) && log_) {
      proof_->reported = true;
      log_->warn("global seq {} is missing and an open transaction may still commit it; waiting (open: {})", next_,
                 store_.describe_open_transactions());
    }
    const auto settled = proof_->started + options_.hole_settle;
    next_read_ = settled > now ? settled : now + options_.hole_check;
    return;
  }
  // 3. No transaction holds an id <= upto any more: read once more (what committed is visible
  //    now), then the ids still missing are holes.
  const std::uint64_t upto = proof_->upto;
  for (auto from = std::optional<std::uint64_t>(next_); from;) from = read_store(*from, upto);
  while (next_ <= upto) {
    const std::uint64_t resume = pending_.empty() ? upto + 1 : std::min(pending_.begin()->first, upto + 1);
    if (resume > next_) {
      stats_.holes += resume - next_;
      if (log_) {
        if (resume - next_ == 1)
          log_->info("global seq {} is a hole (its transaction ended without committing, or a scavenge removed it)",
                     next_);
        else
          log_->info("global seqs {}..{} are holes (their transactions ended without committing, or a scavenge "
                     "removed them)", next_,
                     resume - 1);
      }
      next_ = resume;
    }
    drain();
  }
  proof_.reset();
  next_read_ = now;  // anything above upto: read at once
}

}  // namespace even::dispatcher
