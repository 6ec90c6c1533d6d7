// An in-memory GapStore for GapTracker tests: events "commit" when the test says so, and
// transactions the test opens hold ids the way InnoDB's AUTO_INCREMENT does.
#pragma once

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>

#include "dispatcher/gap_store.h"

namespace even::test {

class FakeGapStore final : public dispatcher::GapStore {
 public:
  // The event id commit() gives `seq` unless told otherwise.
  static EventId id_of(std::uint64_t seq) {
    std::array<std::uint8_t, EventId::kSize> b{};
    for (std::size_t i = 0; i < 8; ++i) b[15 - i] = static_cast<std::uint8_t>(seq >> (8 * i));
    b[0] = 0xe7;
    return EventId(b);
  }
  // A committed event at `seq`.
  void commit(std::uint64_t seq, const std::string& stream = "fake-1", std::optional<EventId> id = std::nullopt) {
    RecordedEvent e;
    e.global_seq = GlobalSeq(seq);
    e.id = id.value_or(id_of(seq));
    e.stream = stream;
    e.type = "Fake";
    committed[seq] = e;
    open.erase(seq);
  }
  // An id taken by a transaction that is still open (its row inserted unless `inserted` is false).
  void begin(std::uint64_t seq, bool inserted = true) { open[seq] = inserted; }
  void rollback(std::uint64_t seq) { open.erase(seq); }

  std::vector<RecordedEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) override {
    ++reads;
    if (fail_next) {
      fail_next = false;
      throw sql::SQLException("injected", "HY000", 2013);
    }
    std::vector<RecordedEvent> out;
    for (auto it = committed.lower_bound(from.value()); it != committed.end() && it->first <= to.value(); ++it) {
      if (out.size() >= limit) break;
      out.push_back(it->second);
    }
    return out;
  }
  std::vector<RecordedEvent> read_ranges(const std::vector<dispatcher::SeqRange>& ranges) override {
    ++range_reads;
    max_ranges_per_read = std::max(max_ranges_per_read, ranges.size());
    return GapStore::read_ranges(ranges);  // range by range, through read_range
  }
  GlobalSeq head() override { return GlobalSeq(committed.empty() ? 0 : committed.rbegin()->first); }
  std::optional<bool> uncommitted_in(GlobalSeq from, GlobalSeq to) override {
    ++lock_checks;
    if (!can_check_locks) return std::nullopt;
    // An open transaction's row is locked once inserted; `inserted_late` models a statement that
    // took its id but has not inserted the row yet.
    for (const auto& [seq, inserted] : open)
      if (seq >= from.value() && seq <= to.value() && inserted) return true;
    return false;
  }
  GlobalSeq last_in_category(std::string_view, GlobalSeq before) override {
    auto it = committed.lower_bound(before.value());
    if (it == committed.begin()) return GlobalSeq(0);
    return GlobalSeq(std::prev(it)->first);
  }

  std::map<std::uint64_t, RecordedEvent> committed;
  std::map<std::uint64_t, bool> open;  // id -> row inserted (locked) yet
  bool can_check_locks = true;
  bool fail_next = false;
  int reads = 0;
  int range_reads = 0;  // read_ranges() calls (each one statement in MySQL)
  std::size_t max_ranges_per_read = 0;
  int lock_checks = 0;
};

}  // namespace even::test
