// The Even client library: what an application links to append events, read streams, $all,
// categories, event types and projection streams, and follow them with catch-up subscriptions;
// aggregates with command handlers and typed event types are built on top of it
// (even/client/aggregate.h, event_types.h). client/README.md is the guide.
//
// Every call works or throws one of even/client/errors.h. A Client owns a ZeroMQ context and,
// for each of even-writer and even-reader, an I/O thread with the DEALER socket it alone uses;
// it is thread-safe: any number of threads may call it at once. Subscriptions own their own
// thread and SUB socket (even/client/subscription.h). ZeroMQ and Cap'n Proto stay behind these
// headers: they include only the standard library, even/common/types.h and event.h (and
// nlohmann/json for event_types.h and aggregate.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "even/client/errors.h"
#include "even/client/event_stream.h"
#include "even/client/events.h"
#include "even/client/projection_stream.h"
#include "even/client/stream_lifecycle.h"
#include "even/client/subscription.h"
#include "even/common/security.h"

namespace even::client {

struct ClientOptions {
  std::string writer_endpoint = "tcp://127.0.0.1:5550";
  std::string reader_endpoint = "tcp://127.0.0.1:5553";
  std::string feed_endpoint = "tcp://127.0.0.1:5552";  // the dispatcher's PUB socket
  std::string groups_endpoint = "tcp://127.0.0.1:5554";  // even-groups' ROUTER (even/client/persistent_subscription.h)
  std::chrono::milliseconds timeout{15000};      // per call, retries included
  std::chrono::milliseconds resend_after{3000};  // resend a request that got no answer (safe: idempotent)
  std::size_t max_message_bytes = 16u << 20;
  // CURVE (README "Security"): with security.secret_key (this client's secret cert file) set, the
  // client encrypts and authenticates each connection to a tcp:// endpoint with the server's
  // public key (writer_public_key, reader_public_key, dispatcher_public_key: a cert file or the
  // 40-character Z85 key); the Client's constructor reads the files and throws
  // std::runtime_error naming a file it cannot use, or a server whose key is missing. Without a
  // secret key the sockets are plain (as with insecure); allow_keys_dir and allow_ips are the
  // servers' and unused here.
  SecurityOptions security;

  // The options of an even.conf, the INI-style file the services read (ops/etc/even.conf): the
  // keys writer-endpoint, reader-endpoint, dispatcher-pub-endpoint, timeout-ms and the CURVE keys
  // (curve-secret-key, writer-public-key, reader-public-key, dispatcher-public-key, insecure;
  // groups-endpoint and groups-public-key for even-groups) at
  // the top of the file; other keys, and every key in a [section], belong to the services and are
  // ignored. Key files are read relative to the working directory, as by the services. A
  // tcp:// endpoint with neither curve-secret-key nor insecure = true is an error
  // (std::runtime_error), as it is for every program.
  // '#' starts a comment. Unset keys keep the defaults above. Throws std::runtime_error naming the
  // file and line when it cannot be read or a line or value is not understood.
  static ClientOptions from_file(const std::string& path);
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Appends `events` to `stream` if its version matches `expected`. Returns their positions.
  // Throws WrongExpectedVersion, DuplicateEvent, InvalidRequest, Timeout or Unavailable.
  // Names are sent with every byte (one with a NUL is refused by the writer, never cut at it).
  // An event with PayloadFormat::json must carry a payload that parses as JSON (or none at all):
  // otherwise InvalidRequest (invalidEvent) is thrown here, before anything is sent. The check is
  // one SAX pass without a document: microseconds for a small payload, tens of milliseconds for
  // a MiB (schemas/README.md, "Payload formats"). The writer stores the bytes as given and does
  // not check, so events appended by other clients may still hold anything.
  AppendResult append(const std::string& stream, ExpectedVersion expected, const std::vector<NewEvent>& events);
  // The same, without waiting: the future yields the result or throws as append() would.
  std::future<AppendResult> append_async(const std::string& stream, ExpectedVersion expected,
                                         const std::vector<NewEvent>& events);
  // The same with a completion handler instead of a future, for applications that keep many
  // appends in flight from few threads: `done` is called exactly once, on the client's I/O
  // thread, with the result or with the exception append() would throw. It must not block; it
  // may start further appends. Invalid input throws here, before anything is sent.
  using AppendHandler = std::function<void(const AppendResult* result, std::exception_ptr error)>;
  void append_async(const std::string& stream, ExpectedVersion expected, const std::vector<NewEvent>& events,
                    AppendHandler done);
  // Round trip to the writer; throws Timeout when it does not answer.
  void ping_writer(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  // Stream lifecycle (even-writer; even/client/stream_lifecycle.h). Each is ordered with the
  // appends around it and checks `expected` as an append does (a soft-deleted stream counts as not
  // existing); each returns the stream's state after it, and a resend after a lost reply succeeds.
  // Soft delete (hard = false): the stream reads as not found until an append (e.g. with
  //   no-stream) starts it again after its last sequence number. Hard delete: a tombstone, the
  //   stream can never be written or changed again. Throws NotFound (no such stream, or
  //   tombstoned), WrongExpectedVersion, InvalidRequest, Timeout or Unavailable.
  StreamState delete_stream(const std::string& stream, bool hard = false,
                            ExpectedVersion expected = ExpectedVersion::any());
  // Hides the events below `before` (1 <= before <= version + 1; never lowered). Throws
  // InvalidRequest (badRange) for a `before` outside that, NotFound, WrongExpectedVersion...
  StreamState truncate_stream(const std::string& stream, StreamSeq before,
                              ExpectedVersion expected = ExpectedVersion::any());
  // Replaces the stream's max-count / max-age (unset: no limit); allowed before the stream's
  // first event. Throws InvalidRequest (badRange) for a count < 1 or an age <= 0.
  StreamState set_stream_metadata(const std::string& stream, const StreamMetadata& metadata,
                                  ExpectedVersion expected = ExpectedVersion::any());
  // The stream's state and metadata as the reader sees them (exists false for a stream never
  // written, deleted or tombstoned).
  StreamState stream_info(const std::string& stream);

  // Reads (even-reader). The EventStreams fetch pages lazily and must not outlive the Client.
  // The events of `stream` from `from` on (backward: from `from` down; kStreamEnd = its last).
  // Throws NotFound when the stream has no events, InvalidRequest, Timeout or Unavailable.
  EventStream read_stream(const std::string& stream, StreamSeq from, Direction dir = Direction::forward,
                          std::size_t max_count = SIZE_MAX);
  // Events with global_seq >= from matching `filter`, in global order.
  EventStream read_all(GlobalSeq from, const Filter& filter = {}, std::size_t max_count = SIZE_MAX);
  // One page of each (at most max_count events, capped by the reader's page size); the next
  // page starts at the page's next_stream_seq / next_global_seq, unless page.end.
  std::future<ReadPage> read_stream_page_async(const std::string& stream, StreamSeq from,
                                               Direction dir = Direction::forward, std::size_t max_count = SIZE_MAX);
  std::future<ReadPage> read_all_page_async(GlobalSeq from, const Filter& filter = {},
                                            std::size_t max_count = SIZE_MAX);
  // The stream's version (the stream_seq of its last event); nullopt when it has no events.
  std::optional<StreamSeq> stream_version(const std::string& stream);
  std::future<std::optional<StreamSeq>> stream_version_async(const std::string& stream);
  // A projection stream (an index kept by even-projector): its events from projection sequence
  // `from` on, numbered 1, 2, 3 ... without holes (even/client/projection_stream.h). Throws
  // NotFound when no projector has indexed `name`. The page call's next_stream_seq is the
  // projection sequence after the page.
  ProjectionEventStream read_projection(const std::string& name, ProjectionSeq from = ProjectionSeq(1),
                                        std::size_t max_count = SIZE_MAX);
  std::future<ReadPage> read_projection_page_async(const std::string& name, ProjectionSeq from,
                                                   std::size_t max_count = SIZE_MAX);
  // The highest global_seq stored (0 when the store is empty).
  GlobalSeq head();
  std::future<GlobalSeq> head_async();

  // A catch-up subscription (even/client/subscription.h): every event >= from matching `filter`,
  // once each, in order, from history and then live. Stops when the returned object is destroyed.
  std::unique_ptr<CatchUpSubscription> subscribe(GlobalSeq from, const Filter& filter,
                                                 CatchUpSubscription::Handler handler,
                                                 SubscriptionOptions options = {});

  const ClientOptions& options() const;

  // The client's state, shared by the files that implement it (client/src/client_impl.h); opaque
  // to applications.
  struct Impl;

 private:
  friend class CatchUpSubscription;  // shares the ZeroMQ context
  std::unique_ptr<Impl> impl_;
};

}  // namespace even::client
