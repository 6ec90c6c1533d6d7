// Client::Impl: the state behind even::client::Client, shared by the files implementing it
// (client.cpp: appends; client_read.cpp, projection_read.cpp: reads; subscription.cpp), and the
// wire-side helpers they share. Not a public header: ZeroMQ and Cap'n Proto stay in client/src.
#pragma once

#include <optional>
#include <zmq.hpp>

#include "even/client/client.h"
#include "even/client/stream_lifecycle.h"
#include "even/common/curve.h"
#include "even/common/wire.h"
#include "even/schemas/reader.capnp.h"
#include "even/schemas/writer.capnp.h"
#include "rpc_channel.h"

namespace even::client {

// The client's code for a service's error code (errors.cpp).
ErrorCode to_client(schema::ErrorCode code);
// Throws the exception matching a service's error reply.
[[noreturn]] void throw_error(schema::ErrorCode code, const std::string& message, std::int64_t current_version = -1);

ReplyInfo classify_writer_reply(wire::Decoded& d);  // client.cpp
// Writes `expected` into a request's ExpectedVersion (client.cpp): appends and lifecycle changes.
void set_expected(schema::ExpectedVersion::Builder ex, ExpectedVersion expected);
ReplyInfo classify_reader_reply(wire::Decoded& d);  // client_read.cpp

// What a call returns, from its reply (decoded and validated by wire::decode<T>, then classified
// on the I/O thread): each throws the service's error reply as its Error subclass, and
// Unavailable(internal) for a reply of another kind. The fuzz targets of tests/fuzz call them on
// arbitrary bytes.
AppendResult to_append_result(wire::Decoded& d);           // client.cpp: a WriterReply
ReadPage to_page(wire::Decoded& d);                        // client_read.cpp: a ReaderReply page
std::optional<StreamSeq> to_stream_version(wire::Decoded& d);  // client_read.cpp: streamInfo
GlobalSeq to_head(wire::Decoded& d);                       // client_read.cpp: head
ReadPage to_projection_page(wire::Decoded& d);             // projection_read.cpp: a projection page

struct Client::Impl {
  explicit Impl(ClientOptions o)
      : options(std::move(o)),
        keys(curve::load(options.security)),
        ctx(1),
        writer(ctx, channel_options(options.writer_endpoint, keys.writer), &wire::decode<schema::WriterReply>,
               classify_writer_reply),
        reader(ctx, channel_options(options.reader_endpoint, keys.reader), &wire::decode<schema::ReaderReply>,
               classify_reader_reply) {}

  // `server_key`: the service's public key (Z85), used when this client has a key of its own.
  ChannelOptions channel_options(const std::string& endpoint, const std::string& server_key) const {
    ChannelOptions c;
    c.endpoint = endpoint;
    c.socket.curve = curve::client_keys(keys, endpoint, server_key);
    c.timeout = options.timeout;
    c.resend_after = options.resend_after;
    c.limits.max_message_bytes = options.max_message_bytes;
    return c;
  }

  // Every append's result passes here: reads after it must include it (read-your-writes).
  AppendResult appended(AppendResult r) {
    reader.raise_min_global_seq(r.last_global_seq.value());
    return r;
  }

  ClientOptions options;
  curve::Keys keys;  // read from options.security's files when the Client is made
  zmq::context_t ctx;
  RpcChannel writer;  // DEALER to even-writer
  RpcChannel reader;  // DEALER to even-reader
};

// A StreamState from one of the schemas' lifecycle messages (the writer's WriterReply.lifecycle,
// the reader's ReaderReply.streamInfo), which carry the same six fields.
template <typename Reader>
StreamState stream_state_of(Reader r) {
  StreamState s;
  s.version = StreamSeq(r.getVersion());
  s.deleted = r.getDeleted();
  s.tombstoned = r.getTombstoned();
  s.exists = s.version.value() > 0 && !s.deleted && !s.tombstoned;
  s.truncate_before = StreamSeq(r.getTruncateBefore());
  if (r.getMaxCount() > 0) s.metadata.max_count = r.getMaxCount();
  if (r.getMaxAgeUs() > 0) s.metadata.max_age = std::chrono::microseconds(r.getMaxAgeUs());
  return s;
}

}  // namespace even::client
