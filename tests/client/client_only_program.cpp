// A program that links even_client and nothing else (client_link_test checks what it needs at run
// time): it makes a Client, as an application would, and closes it without talking to anyone.
#include <even/client/client.h>

#include <iostream>

int main() {
  even::client::ClientOptions options;
  options.writer_endpoint = "tcp://127.0.0.1:1";
  even::client::Client client(options);
  std::cout << "client made for " << client.options().writer_endpoint << "\n";
  return 0;
}
