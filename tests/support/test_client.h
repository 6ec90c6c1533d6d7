// Client options for tests that start their own services: the three endpoints and a per-call
// timeout (the defaults point at ops/even's ports, never what a test started). Header-only, for
// tests that link even_client.
#pragma once

#include <chrono>
#include <string>

#include "even/client/client.h"

namespace even::test {

inline client::ClientOptions client_options(const std::string& writer, const std::string& reader,
                                            const std::string& feed, std::chrono::milliseconds timeout) {
  client::ClientOptions o;
  o.writer_endpoint = writer;
  o.reader_endpoint = reader;
  o.feed_endpoint = feed;
  o.timeout = timeout;
  return o;
}

}  // namespace even::test
