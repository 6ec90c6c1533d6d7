// StoreReads: the SQL of every read the reader serves, over one store::Connection.
//
// Every read is one SELECT served from an index (never a table scan): a stream from
// ux_events_stream_seq, all events from the primary key, a category from ix_events_category, an
// event type from ix_events_type; a read with both filters is driven by the category index and
// filters the types. Pages are bounded by count and by bytes.
//
// Rows go straight from the result set into the reply message under construction (no
// intermediate copies): the caller passes the message's Orphanage and adopts the page's list.
//
// Not thread-safe: a StoreReads belongs to one worker thread, like its connection. The
// connection must outlive it. Throws sql::SQLException as Connector/C++ does; the caller decides
// about reconnecting (see ReadWorker).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <capnp/orphan.h>

#include "even/common/store/mysql.h"
#include "even/common/store/streams.h"
#include "even/common/types.h"
#include "even/schemas/common.capnp.h"

namespace even::reader {

struct PageLimits {
  std::size_t max_events = 10000;
  std::size_t max_bytes = 2u << 20;  // stop before the event that would cross it (one event always fits)
};

// The max_events worth asking the store for. A page query asks for max_events + 1 rows, and a
// streamed result cannot be abandoned part way: every row asked for but cut by max_bytes is
// still sent and drained. So: max_events, or fewer when `row_bytes_hint` (the mean size of
// recently read events, 0 when unknown) says they would not fit in max_bytes (a page of rows
// smaller than the hint then ends a little short of max_bytes); at most kFirstPageRows while
// there is no hint. When events grow much larger from one page to the next, that one page still
// drains what it asked for beyond the byte limit; the hint then follows.
inline constexpr std::size_t kFirstPageRows = 1000;
std::size_t rows_to_ask(const PageLimits& limits, std::size_t row_bytes_hint);

// The positions (global_seq for read-all, projection sequences) one joined read-all or projection
// page query scans at most: hidden rows (a deleted stream not yet scavenged) are scanned and
// skipped, and a long run of them must not make one query read without bound. A page that
// reaches the end of its window before the head ends with end=false and, when it is empty, the
// window's end as its next position; the client asks again from there. A page filtered with the
// LifecycleCache has no window (its LIMIT bounds each query): a request whose rows were all
// hidden reads on, kScanWindow rows at most, then answers an empty page with end=false.
inline constexpr std::int64_t kScanWindow = 100000;

using store::StreamLifecycle;  // every read hides what it says is hidden, at the time of the read

struct StreamPageQuery {
  std::string stream;
  StreamSeq from;
  bool backward = false;
};

struct AllPageQuery {
  GlobalSeq from;  // inclusive
  std::vector<std::string> categories;
  std::vector<std::string> event_types;
};

struct ProjectionPageQuery {
  std::string name;
  ProjectionSeq from;  // >= 1
};

struct Page {
  // Allocated in the caller's message; may be longer than `count` (the tail is unused zeros
  // when the page ended early): the caller truncates it when adopting (Page::take_events).
  capnp::Orphan<capnp::List<schema::RecordedEvent>> events;
  unsigned count = 0;
  bool end = false;          // nothing after this page matched when it was read (an empty page
                             // with end=false: its scan window held nothing visible, kScanWindow)
  StreamSeq next_stream_seq; // stream reads: `from` of the following page
  GlobalSeq next_global_seq; // read-all: `from` of the following page
  std::size_t bytes = 0;     // approximate size of the events on the wire
  std::vector<std::int64_t> projection_seqs;  // read_projection: each event's projection sequence
  std::uint64_t last_scanned = 0;  // position (global_seq, or projection sequence) of the last row
                                   // read, shown or hidden (0: none)
  std::size_t rows_scanned = 0;    // rows read, shown or hidden
  bool needs_joined = false;       // a filtered page began with a row the cache cannot decide

  // The events, truncated to `count`, for adoption into the reply.
  capnp::Orphan<capnp::List<schema::RecordedEvent>> take_events();
};

// What stream lifecycles hide, as much of it as read-all and projection pages need, kept by a
// reader worker so that a page query does not join `streams` on each of its rows (a B-tree dive
// per row, which grew with the number of streams). It holds only the streams whose lifecycle
// hides something (truncate_before > 1, max_count, max_age_us): deleted, truncated and limited
// streams are few.
//
// The writer ticks `lifecycle_clock` in every lifecycle change's transaction and stamps the
// stream's row with the new count (`changed_seq`). sync() reads the clock and, when it moved,
// the rows changed since the count it saw (ix_streams_changed_seq). A page built with the cache
// is exact when the clock read after the page's query equals the one the cache was synced to:
// no change committed in between, so the state the page was filtered with held when its query
// ran. Otherwise the page is read again (StoreReads::read_hiding).
//
// Bound to one server's history: a different url, or a clock that went back (a promoted replica
// without the old primary's last change), starts it again. Not thread-safe (one per worker).
class LifecycleCache {
 public:
  struct Hides {
    std::int64_t truncate_before = 0;
    std::int64_t max_age_us = 0;  // 0: none
    bool max_count = false;       // needs the stream's version: such rows take the joined query
  };

  // Brings the cache to the store's current clock over `conn`. Returns whether it changed (or
  // was loaded); false also when the store has no lifecycle clock (schema before 6: usable()
  // then says false).
  bool sync(store::Connection& conn);
  bool loaded() const { return loaded_; }
  bool usable() const { return usable_; }
  bool empty() const { return hides_.empty(); }
  const Hides* find(std::string_view stream) const;
  std::size_t size() const { return hides_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::string url_;
  bool loaded_ = false;
  bool usable_ = true;
  std::uint64_t seen_ = 0;
  std::unordered_map<std::string, Hides, Hash, std::equal_to<>> hides_;
};

class StoreReads {
 public:
  // Without `hides`, every read-all and projection page joins `streams` (exact, and slower per row).
  explicit StoreReads(store::Connection& conn, LifecycleCache* hides = nullptr) : conn_(conn), hides_(hides) {}

  // Events of `q.stream` from q.from on (or down from it, backward), without those its lifecycle
  // hides. An empty page with end=true when nothing is there; nullopt when the stream does not
  // exist (never written, deleted or hard-deleted).
  std::optional<Page> read_stream(const StreamPageQuery& q, const PageLimits& limits, capnp::Orphanage orphanage);
  // Events with global_seq >= q.from matching the filters, in global order, without those their
  // streams' lifecycles hide.
  Page read_all(const AllPageQuery& q, const PageLimits& limits, capnp::Orphanage orphanage);
  // Events of projection stream `q.name` (projection_streams, written by even-projector) from
  // q.from on, without those their streams' lifecycles hide; next_stream_seq is the projection
  // sequence after the page. nullopt when no projector has ever indexed that name.
  std::optional<Page> read_projection(const ProjectionPageQuery& q, const PageLimits& limits, capnp::Orphanage orphanage);
  // The stream's version (its last stream_seq) and lifecycle, from one SELECT.
  StreamLifecycle stream_info(const std::string& stream);
  // The highest global_seq stored; 0 when the store is empty.
  GlobalSeq head();

 private:
  // The query of a read-all or projection page from position `from` on: joined with `streams`
  // (lifecycles decided by the store, row by row, within a scan window), or from `events` alone.
  using PageSql = std::function<std::string(std::uint64_t from, bool joined)>;

  // Runs `sql` (which selects kEventColumns, at most limits.max_events + 1 rows) and fills a page.
  // With `projection_seqs`, the sql selects the rows' projection sequence as one more column: the
  // page's rows' values are collected there, and it is the position of Page::last_scanned.
  // With `filter`, rows its streams' lifecycles hide at `now` are skipped (still scanned), and a
  // row of a stream with a max-count limit ends the page before it (Page::needs_joined when it
  // is the first). The page's list comes from `reuse` when nothing was written in it.
  Page fill_page(const std::string& sql, const PageLimits& limits, capnp::Orphanage orphanage,
                 std::vector<std::int64_t>* projection_seqs = nullptr, const LifecycleCache* filter = nullptr,
                 std::int64_t now = 0, Page reuse = {});

  // A page of `sql` from `from` on without what lifecycles hide at `now`: from `events` alone,
  // filtered with the LifecycleCache when there is one and the store has a clock (a run of hidden
  // rows reads on, kScanWindow rows at most; the page is exact when the clock did not move while
  // it was read, else it is read again, joined), otherwise joined. `joined` says which made it.
  Page read_hiding(const PageSql& sql, std::uint64_t from, const PageLimits& limits, capnp::Orphanage orphanage,
                   std::int64_t now, std::vector<std::int64_t>* projection_seqs, bool& joined);

  store::Connection& conn_;
  LifecycleCache* hides_;
};

}  // namespace even::reader
