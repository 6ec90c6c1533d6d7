// The writer's check of one append request: the pure step between a decoded WriterRequest and an
// AppendCommand for the GroupCommitter. No socket, no store: WriterService calls it on every
// append it receives, and the fuzz target tests/fuzz/writer_request.cpp on arbitrary bytes.
#pragma once

#include <string>
#include <variant>

#include "even/schemas/writer.capnp.h"
#include "writer/group_committer.h"

namespace even::writer {

struct WriterOptions;

// Why an append is refused: the error code and message of the reply.
struct Rejection {
  schema::ErrorCode code;
  std::string message;
};

// Turns a decoded AppendRequest into an AppendCommand, or says why it is invalid. Changes nothing.
// `req` must come from wire::decode<schema::WriterRequest> (validated); only the limits of `o`
// (max_events_per_append, max_metadata_bytes) are used.
std::variant<AppendCommand, Rejection> validate_append(schema::AppendRequest::Reader req, const WriterOptions& o);

// Turns a decoded deleteStream, truncateStream or setStreamMetadata request into an AppendCommand
// with its `change` set (and no events), or says why it is invalid (a bad stream name, a negative
// count or age, truncate before < 1). `req` must be one of those three kinds.
std::variant<AppendCommand, Rejection> validate_change(schema::WriterRequest::Reader req);

}  // namespace even::writer
