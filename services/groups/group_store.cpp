#include "groups/group_store.h"

#include <chrono>

#include "even/common/store/events.h"
#include "even/common/types.h"

namespace even::groups {

namespace {
std::string quoted(const std::string& s) {
  std::string out;
  store::append_quoted(out, s);
  return out;
}
}  // namespace

std::vector<GroupRow> GroupStore::load() {
  return session_.guarded([](store::Connection& c) {
    std::vector<GroupRow> out;
    auto rs = c.query(
        "SELECT name, source_kind, source_value, max_retries, ack_timeout_ms, max_in_flight, ordering, start_from, "
        "checkpoint, parked, replay_to, replay_until FROM subscription_groups ORDER BY name");
    while (rs->next()) {
      GroupRow r;
      r.name = rs->getString(1).asStdString();
      r.settings.source = static_cast<SourceKind>(rs->getUInt(2));
      r.settings.value = rs->getString(3).asStdString();
      r.settings.max_retries = rs->getUInt(4);
      r.settings.ack_timeout = std::chrono::milliseconds(rs->getUInt(5));
      r.settings.max_in_flight = rs->getUInt(6);
      r.settings.ordering = static_cast<Ordering>(rs->getUInt(7));
      r.settings.start_from = GlobalSeq(rs->getUInt64(8));
      r.checkpoint = GlobalSeq(rs->getUInt64(9));
      r.parked = rs->getUInt64(10);
      r.replay_to = rs->getInt64(11);
      r.replay_until = rs->getInt64(12);
      out.push_back(std::move(r));
    }
    return out;
  });
}

bool GroupStore::create(const std::string& name, const GroupSettings& s) {
  return session_.guarded([&](store::Connection& c) {
    const auto t = std::to_string(unix_now_us());
    const std::uint64_t start = s.start_from.value();
    return c.update("INSERT IGNORE INTO subscription_groups (name, source_kind, source_value, max_retries, "
                    "ack_timeout_ms, max_in_flight, ordering, start_from, checkpoint, created_at_us, updated_at_us) "
                    "VALUES (" +
                    quoted(name) + ", " + std::to_string(static_cast<int>(s.source)) + ", " + quoted(s.value) + ", " +
                    std::to_string(s.max_retries) + ", " + std::to_string(s.ack_timeout.count()) + ", " +
                    std::to_string(s.max_in_flight) + ", " + std::to_string(static_cast<int>(s.ordering)) + ", " +
                    std::to_string(start) + ", " + std::to_string(start > 0 ? start - 1 : 0) + ", " + t + ", " + t +
                    ")") == 1;
  });
}

bool GroupStore::remove(const std::string& name) {
  return session_.guarded(
      [&](store::Connection& c) { return c.update("DELETE FROM subscription_groups WHERE name = " + quoted(name)) == 1; });
}

void GroupStore::save_positions(const std::string& name, GlobalSeq checkpoint, std::int64_t replay_to,
                                std::int64_t replay_until, std::uint64_t parked_add) {
  session_.guarded([&](store::Connection& c) {
    c.update("UPDATE subscription_groups SET checkpoint = " + std::to_string(checkpoint.value()) +
             ", replay_to = " + std::to_string(replay_to) + ", replay_until = " + std::to_string(replay_until) +
             ", parked = parked + " + std::to_string(parked_add) + ", updated_at_us = " + std::to_string(unix_now_us()) +
             " WHERE name = " + quoted(name));
    return 0;
  });
}

std::vector<RecordedEvent> GroupStore::read_source(const GroupSettings& s, GlobalSeq from, GlobalSeq to,
                                                   std::size_t limit) {
  return session_.guarded([&](store::Connection& c) {
    std::vector<RecordedEvent> out;
    if (to < from || limit == 0) return out;
    // Each form is a range scan of one index: the primary key, (category, global_seq),
    // (event_type, global_seq) or, for one stream, its rows of (stream, stream_seq).
    // The parked streams are never a source (group.h, kParkedCategory): a filter on the rows read.
    std::string where = "category <> " + quoted(std::string(kParkedCategory)) + " AND ";
    switch (s.source) {
      case SourceKind::stream: where += "stream = " + quoted(s.value) + " AND "; break;
      case SourceKind::category: where += "category = " + quoted(s.value) + " AND "; break;
      case SourceKind::event_type: where += "event_type = " + quoted(s.value) + " AND "; break;
      case SourceKind::all: break;
    }
    auto rs = c.query(std::string("SELECT ") + store::kEventColumns + " FROM events WHERE " + where +
                      "global_seq BETWEEN " + std::to_string(from.value()) + " AND " + std::to_string(to.value()) +
                      " ORDER BY global_seq LIMIT " + std::to_string(limit));
    while (rs->next()) out.push_back(store::read_event_row(*rs));
    return out;
  });
}

std::vector<RecordedEvent> GroupStore::read_stream(const std::string& stream, std::int64_t from, std::int64_t to,
                                                   std::size_t limit) {
  return session_.guarded([&](store::Connection& c) {
    std::vector<RecordedEvent> out;
    if (to < from || limit == 0) return out;
    auto rs = c.query(std::string("SELECT ") + store::kEventColumns + " FROM events WHERE stream = " + quoted(stream) +
                      " AND stream_seq BETWEEN " + std::to_string(from) + " AND " + std::to_string(to) +
                      " ORDER BY stream_seq LIMIT " + std::to_string(limit));
    while (rs->next()) out.push_back(store::read_event_row(*rs));
    return out;
  });
}

std::vector<RecordedEvent> GroupStore::read_at(const std::vector<std::uint64_t>& seqs) {
  return session_.guarded([&](store::Connection& c) {
    std::vector<RecordedEvent> out;
    if (seqs.empty()) return out;
    std::string list;
    for (auto s : seqs) list += (list.empty() ? "" : ",") + std::to_string(s);
    auto rs = c.query(std::string("SELECT ") + store::kEventColumns + " FROM events WHERE global_seq IN (" + list +
                      ") ORDER BY global_seq");
    while (rs->next()) out.push_back(store::read_event_row(*rs));
    return out;
  });
}

std::int64_t GroupStore::stream_version(const std::string& stream) {
  return session_.guarded([&](store::Connection& c) {
    return c.query_int("SELECT MAX(stream_seq) FROM events WHERE stream = " + quoted(stream)).value_or(0);
  });
}

}  // namespace even::groups
