// Projection streams: a named, persisted index of the events that match a filter, numbered
// 1, 2, 3 ... without holes, in global order, kept in the EVENT STORE (migration 2):
//
//   projection_streams (name, seq, global_seq)   PRIMARY KEY (name, seq), UNIQUE (name, global_seq)
//   projection_stream_checkpoints                the same columns as a query database's even_checkpoints
//
// It is a Projection whose "query database" is the event store: run it with a ProjectionRunner
// over the store's DbOptions and RunnerOptions::checkpoint_table = kStreamCheckpointTable, so each
// batch of index rows and the checkpoint commit together, and a restart resumes from the
// checkpoint. even-reader serves it (readProjection; Client::read_projection, evenctl
// read-projection). A changed filter rebuilds the index (its numbering starts again at 1).
#pragma once

#include <string>

#include "even/projector/projection.h"

namespace even::projector {

struct ProjectionStreamDef {
  std::string name;  // a projection name (validate_projection_name)
  client::Filter filter;
};

class ProjectionStreamIndexer : public Projection {
 public:
  explicit ProjectionStreamIndexer(ProjectionStreamDef def);

  std::string name() const override { return def_.name; }
  client::Filter filter() const override { return def_.filter; }
  std::string definition_hash() const override;
  // Loads the next sequence number from the index.
  void setup(QueryTx& tx) override;
  // Deletes the stream's rows.
  void reset(QueryTx& tx) override;
  void handle(const client::RecordedEvent& e, QueryTx& tx) override;
  // One multi-row INSERT for the batch.
  void flush(QueryTx& tx) override;

 private:
  ProjectionStreamDef def_;
  std::string quoted_name_;
  std::int64_t next_seq_ = 1;
  std::string pending_;  // VALUES rows of the batch
};

}  // namespace even::projector
