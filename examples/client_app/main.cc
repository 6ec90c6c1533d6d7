// even-hello: appends one event to a stream and reads the stream back, through the Even client
// library. An example of an application built against the installed package (CMakeLists.txt).
//
//   even-hello [--writer-endpoint tcp://HOST:5550] [--reader-endpoint tcp://HOST:5553] STREAM
#include <even/client/client.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  even::client::ClientOptions options;
  std::string stream;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--writer-endpoint" && i + 1 < argc) options.writer_endpoint = argv[++i];
    else if (arg == "--reader-endpoint" && i + 1 < argc) options.reader_endpoint = argv[++i];
    else if (!arg.empty() && arg[0] != '-') stream = arg;
    else {
      std::cerr << "usage: even-hello [--writer-endpoint E] [--reader-endpoint E] STREAM\n";
      return 2;
    }
  }
  if (stream.empty()) {
    std::cerr << "usage: even-hello [--writer-endpoint E] [--reader-endpoint E] STREAM\n";
    return 2;
  }
  try {
    even::client::Client client(options);
    even::client::NewEvent hello;
    hello.type = "Greeted";
    hello.payload = R"({"greeting":"hello"})";
    auto appended = client.append(stream, even::ExpectedVersion::any(), {hello});
    std::cout << "appended " << hello.id.to_string() << " to " << stream << " at version "
              << appended.last_stream_seq.value() << ", global position " << appended.last_global_seq.value() << "\n";
    auto events = client.read_stream(stream, even::StreamSeq(1)).to_vector();
    std::cout << "read " << events.size() << " event(s) of " << stream << "\n";
    for (const auto& e : events) std::cout << "  " << e.stream_seq.value() << " " << e.type << " " << e.payload << "\n";
  } catch (const even::client::Error& e) {
    std::cerr << "even-hello: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
