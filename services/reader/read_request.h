// The reader's checks of a request, the pure step between a decoded ReaderRequest and the query
// a ReadWorker runs on the store: each turns one request kind into its query, or says why it is
// refused. Nothing is read. ReadWorker::serve calls them on every request it receives, the fuzz
// target tests/fuzz/reader_request.cpp on arbitrary bytes. Requests must come from
// wire::decode<schema::ReaderRequest> (validated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include <zmq.hpp>

#include "even/schemas/reader.capnp.h"
#include "reader/store_reads.h"

namespace even::reader {

// Why a request gets an error reply: its code and a message for the client.
struct Refusal {
  schema::ErrorCode code;
  std::string message;
};

// invalidStream when `stream` is not a valid stream name.
std::optional<Refusal> check_stream(const std::string& stream);
std::variant<StreamPageQuery, Refusal> stream_query(schema::ReadStream::Reader r);
// At most `max_filter_values` categories and as many event types; duplicates removed.
std::variant<AllPageQuery, Refusal> all_query(schema::ReadAll::Reader r, std::size_t max_filter_values);
std::variant<ProjectionPageQuery, Refusal> projection_query(schema::ReadProjection::Reader r);

// What the broker reads of a request frame before a worker decodes it: the union's tag (0..4:
// readStream, readAll, readProjection, streamInfo, head) and the request id. kind is -1 and
// request_id 0 when the frame is not a readable ReaderRequest (the worker then answers it
// `malformed`). Reads two fields only; never throws.
struct RequestHead {
  int kind = -1;
  std::uint64_t request_id = 0;
};
RequestHead peek_request(const void* data, std::size_t size);

// The error reply to request `request_id`: `code` and `message`. Used by the workers and by the
// broker (its busy refusals).
zmq::message_t encode_error(std::uint64_t request_id, schema::ErrorCode code, const std::string& message);

}  // namespace even::reader
