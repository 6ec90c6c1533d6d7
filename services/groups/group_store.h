// GroupStore: what even-groups keeps in and reads from the event store — the groups' rows in
// subscription_groups (settings, checkpoint, replay positions) and the events a group hands out,
// read by global position ranges in global order through the store layer.
//
// One store::Session: a connection opened lazily, dropped after an error (the next call
// reconnects), leaving a demoted primary. Store errors are thrown as sql::SQLException. Not thread-safe: the service's
// thread is its only user.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "even/common/config.h"
#include "even/common/store/mysql.h"
#include "even/common/store/session.h"
#include "groups/group.h"

namespace even::groups {

struct GroupRow {
  std::string name;
  GroupSettings settings;
  GlobalSeq checkpoint;
  std::uint64_t parked = 0;
  std::int64_t replay_to = 0;
  std::int64_t replay_until = 0;
};

class GroupStore {
 public:
  explicit GroupStore(config::DbOptions db) : session_(std::move(db)) {}

  std::vector<GroupRow> load();
  // False when a group of that name exists.
  bool create(const std::string& name, const GroupSettings& s);
  // False when there was none.
  bool remove(const std::string& name);
  void save_positions(const std::string& name, GlobalSeq checkpoint, std::int64_t replay_to,
                      std::int64_t replay_until, std::uint64_t parked_add);

  // Events of the group's source with from <= global_seq <= to, in global order, at most limit.
  std::vector<RecordedEvent> read_source(const GroupSettings& s, GlobalSeq from, GlobalSeq to, std::size_t limit);
  // Events of `stream` with from <= stream_seq <= to, in stream order, at most limit.
  std::vector<RecordedEvent> read_stream(const std::string& stream, std::int64_t from, std::int64_t to,
                                         std::size_t limit);
  // The events at these global positions (those that are still stored), in global order.
  std::vector<RecordedEvent> read_at(const std::vector<std::uint64_t>& seqs);
  // The stream's last stream_seq (0 when it has none).
  std::int64_t stream_version(const std::string& stream);

 private:
  store::Session session_;
};

}  // namespace even::groups
