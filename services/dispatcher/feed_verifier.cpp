#include "dispatcher/feed_verifier.h"

#include <algorithm>

namespace even::dispatcher {

std::optional<wire::DecodeError> decode_claims(zmq::message_t&& frame, const wire::Limits& limits,
                                               std::uint32_t sender, std::vector<FeedClaim>& out) {
  auto decoded = wire::decode<schema::CommittedBatch>(std::move(frame), limits);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) return std::move(*err);
  for (auto ev : std::get<wire::Decoded>(decoded).root<schema::CommittedBatch>().getEvents()) {
    auto id = ev.getEventId();
    out.push_back(FeedClaim{GlobalSeq(ev.getGlobalSeq()), EventId::from_bytes(id.begin(), id.size()),
                            wire::text_string(ev.getStream()), sender});
  }
  return std::nullopt;
}

const char* to_string(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::absent:
      return "the store holds no event there";
    case RefusalReason::different_event:
      return "the store holds another event there";
    case RefusalReason::different_stream:
      return "the store holds that event id there in another stream";
  }
  return "?";
}

Verified FeedVerifier::verify(std::vector<FeedClaim> claims) {
  Verified out;
  if (claims.empty()) return out;
  std::stable_sort(claims.begin(), claims.end(),
                   [](const FeedClaim& a, const FeedClaim& b) { return a.global_seq < b.global_seq; });

  // Runs of nearby positions; the writer's batches make one.
  std::vector<SeqRange> runs;
  for (const auto& c : claims) {
    if (!runs.empty() && c.global_seq.value() <= runs.back().to.value() + kRunSlack)
      runs.back().to = std::max(runs.back().to, c.global_seq);
    else
      runs.push_back({c.global_seq, c.global_seq});
  }
  std::vector<RecordedEvent> rows;
  for (std::size_t i = 0; i < runs.size(); i += kMaxRunsPerRead) {
    const auto end = runs.begin() + static_cast<std::ptrdiff_t>(std::min(runs.size(), i + kMaxRunsPerRead));
    auto part = store_.read_ranges({runs.begin() + static_cast<std::ptrdiff_t>(i), end});
    for (auto& r : part) rows.push_back(std::move(r));
  }

  // Both ascending: walk them together. Every claim of one position is judged against that
  // position's row; the row is believed (once) when any claim matches it.
  auto row = rows.begin();
  for (auto c = claims.begin(); c != claims.end();) {
    const GlobalSeq seq = c->global_seq;
    while (row != rows.end() && row->global_seq < seq) ++row;
    const bool held = row != rows.end() && row->global_seq == seq;
    bool believed = false;
    for (; c != claims.end() && c->global_seq == seq; ++c) {
      std::optional<RefusalReason> reason;
      if (!held)
        reason = RefusalReason::absent;
      else if (!c->event_id || *c->event_id != row->id)
        reason = RefusalReason::different_event;
      else if (c->stream != row->stream)
        reason = RefusalReason::different_stream;
      if (!reason) {
        believed = true;
        continue;
      }
      Refusal r{std::move(*c), *reason, std::nullopt, {}};
      if (held) {
        r.stored_id = row->id;
        r.stored_stream = row->stream;
      }
      out.refused.push_back(std::move(r));
    }
    if (believed) out.events.push_back(std::move(*row));
  }
  return out;
}

}  // namespace even::dispatcher
