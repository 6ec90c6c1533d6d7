// An in-memory GapStore for GapTracker tests: events "commit" when the test says so, and
// transactions the test opens hold ids the way InnoDB's AUTO_INCREMENT does.
#pragma once

#include <map>
#include <set>

#include "dispatcher/gap_store.h"

namespace even::test {

class FakeGapStore final : public dispatcher::GapStore {
 public:
  // A committed event at `seq`.
  void commit(std::uint64_t seq, const std::string& stream = "fake-1") {
    store::StoredEvent e;
    e.global_seq = GlobalSeq(seq);
    e.stream = stream;
    e.type = "Fake";
    committed[seq] = e;
    open.erase(seq);
  }
  // An id taken by a transaction that is still open (its row inserted unless `inserted` is false).
  void begin(std::uint64_t seq, bool inserted = true) { open[seq] = inserted; }
  void rollback(std::uint64_t seq) { open.erase(seq); }

  std::vector<store::StoredEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) override {
    ++reads;
    if (fail_next) {
      fail_next = false;
      throw sql::SQLException("injected", "HY000", 2013);
    }
    std::vector<store::StoredEvent> out;
    for (auto it = committed.lower_bound(from.value()); it != committed.end() && it->first <= to.value(); ++it) {
      if (out.size() >= limit) break;
      out.push_back(it->second);
    }
    return out;
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

  std::map<std::uint64_t, store::StoredEvent> committed;
  std::map<std::uint64_t, bool> open;  // id -> row inserted (locked) yet
  bool can_check_locks = true;
  bool fail_next = false;
  int reads = 0;
  int lock_checks = 0;
};

}  // namespace even::test
