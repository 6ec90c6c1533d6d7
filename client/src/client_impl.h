// Client::Impl: the state behind even::client::Client, shared by the files implementing it
// (client.cpp: appends; further files: reads, subscriptions). Not a public header.
#pragma once

#include <zmq.hpp>

#include "even/client/client.h"
#include "even/client/rpc_channel.h"
#include "even/schemas/reader.capnp.h"
#include "even/schemas/writer.capnp.h"

namespace even::client {

ReplyInfo classify_writer_reply(wire::Decoded& d);
// A wire event as the client API hands it over (subscription.cpp).
RecordedEvent to_client(schema::RecordedEvent::Reader in);
ReplyInfo classify_reader_reply(wire::Decoded& d);  // client_read.cpp

struct Client::Impl {
  explicit Impl(ClientOptions o)
      : options(std::move(o)), ctx(1), writer(ctx, channel_options(options.writer_endpoint),
                                              &wire::decode<schema::WriterReply>, classify_writer_reply),
        reader(ctx, channel_options(options.reader_endpoint), &wire::decode<schema::ReaderReply>,
               classify_reader_reply) {}

  ChannelOptions channel_options(const std::string& endpoint) const {
    ChannelOptions c;
    c.endpoint = endpoint;
    c.timeout = options.timeout;
    c.resend_after = options.resend_after;
    c.limits.max_message_bytes = options.max_message_bytes;
    return c;
  }

  ClientOptions options;
  zmq::context_t ctx;
  RpcChannel writer;  // DEALER to even-writer
  RpcChannel reader;  // DEALER to even-reader
};

}  // namespace even::client
