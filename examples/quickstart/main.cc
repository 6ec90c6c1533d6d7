// quickstart: the Even client library in one file. Appends two events to a stream, reads the
// stream back, and follows every event of its category with a catch-up subscription until it
// has seen both (history first, then live from the dispatcher's feed).
//
//   quickstart [--config FILE] [STREAM]     (default: the endpoints of a local `ops/even up`)
//
// FILE is the even.conf the services read; only its endpoint keys are used (client/README.md).
#include <even/client/client.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  namespace ec = even::client;
  try {
    ec::ClientOptions options;
    std::string stream = "quickstart-1";
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--config" && i + 1 < argc) options = ec::ClientOptions::from_file(argv[++i]);
      else if (!arg.empty() && arg[0] != '-') stream = arg;
      else return std::cerr << "usage: quickstart [--config FILE] [STREAM]\n", 2;
    }
    ec::Client client(options);

    // Append two events. ExpectedVersion::any() checks nothing; no_stream() or exact(n) would.
    ec::NewEvent opened{.type = "Opened", .payload = R"({"owner":"ada"})"};
    ec::NewEvent deposited{.type = "Deposited", .payload = R"({"amount":10})"};
    const auto appended = client.append(stream, ec::ExpectedVersion::any(), {opened, deposited});
    std::cout << "appended to " << stream << ": version " << appended.last_stream_seq.value() << ", global positions "
              << appended.first_global_seq.value() << "-" << appended.last_global_seq.value() << "\n";

    // Read the stream from its first event.
    for (const auto& e : client.read_stream(stream, ec::StreamSeq(1)))
      std::cout << "  read " << e.stream << "/" << e.stream_seq.value() << " " << e.type << " " << e.payload << "\n";

    // Subscribe to the stream's category from the first of our events, until the last arrives.
    std::mutex mu;
    std::condition_variable cv;
    bool seen_last = false;
    ec::Filter filter{.categories = {std::string(ec::category_of(stream))}};
    auto subscription = client.subscribe(appended.first_global_seq, filter, [&](const ec::RecordedEvent& e) {
      std::cout << "  delivered " << e.global_seq.value() << " " << e.stream << " " << e.type << "\n";
      std::lock_guard lock(mu);
      if (e.global_seq >= appended.last_global_seq) seen_last = true;
      cv.notify_one();
    });
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen_last; }))
      return std::cerr << "quickstart: the subscription did not deliver our events within 10 s\n", 1;
  } catch (const ec::Error& e) {  // a failed call: e.code() says why
    std::cerr << "quickstart: " << ec::to_string(e.code()) << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // e.g. a config file that cannot be read
    std::cerr << "quickstart: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
