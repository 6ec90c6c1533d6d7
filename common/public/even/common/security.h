// The CURVE settings of a node as the config file names them (the shared keys at its top, README
// "Security"): file names and texts, not yet read. Standard library only: the client's
// ClientOptions holds one (client.h); even/common/curve.h (internal) reads the files.
#pragma once

#include <string>

namespace even {

struct SecurityOptions {
  std::string secret_key;             // curve-secret-key: this node's secret cert (NAME.key_secret)
  std::string writer_public_key;      // writer-public-key: the writer's public cert file, or its Z85 key
  std::string reader_public_key;      // reader-public-key
  std::string dispatcher_public_key;  // dispatcher-public-key
  std::string groups_public_key;      // groups-public-key: even-groups' (services/groups)
  std::string allow_keys_dir;         // allow-keys-dir (servers): public certs of the clients let in
  std::string allow_ips;              // allow-ips (servers): CIDRs, comma-separated; empty: any address
  bool insecure = false;              // insecure: plain TCP, no keys (a warning at start)
};

}  // namespace even
