// The reader's checks of a request, the pure step between a decoded ReaderRequest and the query
// a ReadWorker runs on the store: each turns one request kind into its query, or says why it is
// refused. Nothing is read. ReadWorker::serve calls them on every request it receives, the fuzz
// target tests/fuzz/reader_request.cpp on arbitrary bytes. Requests must come from
// wire::decode<schema::ReaderRequest> (validated).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <variant>

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

}  // namespace even::reader
