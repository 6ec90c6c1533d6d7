#include "projector/projection_stream.h"

#include <stdexcept>

namespace even::projector {

ProjectionStreamIndexer::ProjectionStreamIndexer(ProjectionStreamDef def) : def_(std::move(def)) {
  if (auto why = validate_projection_name(def_.name); !why.empty()) throw std::invalid_argument(why);
  store::append_quoted(quoted_name_, def_.name);
}

std::string ProjectionStreamIndexer::definition_hash() const {
  std::string text = "projection-stream-v1|categories:";
  for (const auto& c : def_.filter.categories) text += c + ",";
  text += "|types:";
  for (const auto& t : def_.filter.event_types) text += t + ",";
  return stable_hash(text);
}

void ProjectionStreamIndexer::setup(QueryTx& tx) {
  pending_.clear();
  next_seq_ = tx.query_int("SELECT COALESCE(MAX(seq), 0) FROM projection_streams WHERE name = " + quoted_name_)
                  .value_or(0) + 1;
}

void ProjectionStreamIndexer::reset(QueryTx& tx) {
  tx.add("DELETE FROM projection_streams WHERE name = " + quoted_name_);
  pending_.clear();
  next_seq_ = 1;
}

void ProjectionStreamIndexer::handle(const client::RecordedEvent& e, QueryTx&) {
  pending_ += pending_.empty() ? "(" : ",(";
  pending_ += quoted_name_;
  pending_ += ',';
  pending_ += std::to_string(next_seq_++);
  pending_ += ',';
  pending_ += std::to_string(e.global_seq.value());
  pending_ += ')';
}

void ProjectionStreamIndexer::flush(QueryTx& tx) {
  if (pending_.empty()) return;
  tx.add("INSERT INTO projection_streams (name, seq, global_seq) VALUES " + pending_);
  pending_.clear();
}

}  // namespace even::projector
