// evenctl's commands: each takes (argc, argv) with argv[0] the command name, and returns the
// process exit code (0 ok, 1 failure, 2 usage, 4 wrong expected version). Helpers they share
// (option sets, JSON printing) are here too.
#pragma once

#include <iostream>
#include <optional>
#include <string>

#include "even/client/client.h"
#include "even/common/config.h"

namespace even::ctl {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

int cmd_store(int argc, char** argv);
int cmd_append(int argc, char** argv);
int cmd_ping(int argc, char** argv);
int cmd_read(int argc, char** argv);            // cmd_read.cc
int cmd_read_all(int argc, char** argv);        // cmd_read.cc
int cmd_head(int argc, char** argv);            // cmd_read.cc
int cmd_stream_version(int argc, char** argv);  // cmd_read.cc
int cmd_tail(int argc, char** argv);            // cmd_tail.cc
int cmd_projection(int argc, char** argv);      // cmd_projection.cc
int cmd_read_projection(int argc, char** argv); // cmd_projection.cc
int cmd_stats(int argc, char** argv);           // cmd_stats.cc
int cmd_keygen(int argc, char** argv);          // cmd_keygen.cc
int cmd_stream(int argc, char** argv);          // cmd_stream.cc
int cmd_group(int argc, char** argv);           // cmd_group.cc

// Adds the options every client command takes (endpoints, timeout, CURVE keys) to `desc`.
void add_client_options(config::po::options_description& desc, client::ClientOptions& co, int& timeout_ms);
// Applies what add_client_options parsed; throws po::error when a tcp:// endpoint has no keys and
// --insecure is not given.
void finish_client_options(client::ClientOptions& co, int timeout_ms);
// A global sequence given to `option` (e.g. "--from"): digits only. Throws po::error for anything
// else, a sign included (Boost.Program_options would read "-1" into an unsigned as 2^64 - 1).
GlobalSeq parse_global_seq(const std::string& text, const std::string& option);
// Prints one event as a JSON line on stdout (event_json.cc): payload and metadata embedded when
// they are JSON, else a string when UTF-8, else base64 beside "<key>_encoding": "base64".
// Projection-stream reads add the event's projection sequence as "seq".
void print_event_json(const client::RecordedEvent& e, std::optional<ProjectionSeq> projection_seq = {},
                      bool flush = false);
// Writes `s` as a JSON string literal (quotes and escapes).
void write_json_string(std::ostream& out, const std::string& s);
// Prints a client error on stderr as "evenctl: <what>"; for the exit codes of guarded().
void print_error(const client::Error& err);

// Runs `body` and turns the client's exceptions into a message and an exit code: 4 for a wrong
// expected version, 3 for not found, 1 for any other.
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const client::WrongExpectedVersion& err) {
    print_error(err);
    return 4;
  } catch (const client::NotFound& err) {
    print_error(err);
    return 3;
  } catch (const client::Error& err) {
    print_error(err);
    return 1;
  }
}

}  // namespace even::ctl
