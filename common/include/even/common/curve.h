// CURVE keys and sockets (ZeroMQ's CurveZMQ: encryption and authentication of every TCP socket).
// Certificates are files in the zcert text format that czmq and pyzmq read and write:
//
//   metadata
//       role = "append read subscribe"
//   curve
//       public-key = "<40 characters of Z85>"
//       secret-key = "<40 characters of Z85>"     <- only in NAME.key_secret (mode 0600)
//
// A server socket is a CURVE server under a role (its ZAP domain, checked by the process's ZAP
// handler, even/common/zap.h); a client socket knows the server's public key and has a key pair
// of its own. Used by every service, the client library and evenctl; standard library and libzmq
// only. README.md "Security" says how a cluster gets its keys.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "even/common/net.h"
#include "even/common/security.h"

namespace even::curve {

inline constexpr std::size_t kKeyChars = 40;  // a 32-byte key in Z85

// What a key may do; each server socket checks one (its ZAP domain).
enum class Role { append, read, subscribe, feed };
// "append", "read", "subscribe", "feed".
const char* role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);
// Roles from "append,read" or "append read" (the cert's metadata); throws std::invalid_argument
// naming an unknown role.
std::set<Role> parse_roles(std::string_view text);
// "append read" (space-separated, as in a cert's metadata).
std::string roles_text(const std::set<Role>& roles);

struct Cert {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85; empty in a public cert
  std::vector<std::pair<std::string, std::string>> metadata;  // in file order
  // The value of metadata `key`, "" when absent.
  std::string metadata_value(std::string_view key) const;
};

// A fresh key pair (zmq_curve_keypair: libsodium's random source).
Cert generate(std::vector<std::pair<std::string, std::string>> metadata = {});
// Reads a public or secret cert; throws std::runtime_error naming the file (and line) when it
// cannot be read or holds no valid public key (or an invalid secret key).
Cert load_cert(const std::string& path);
// Writes `cert` as `public_path` (mode 0644, no secret) and `secret_path` (mode 0600). Refuses
// (std::runtime_error, nothing written) when either file exists.
void save_cert(const Cert& cert, const std::string& public_path, const std::string& secret_path);
// The zcert text of `cert`, with its secret key when `with_secret`.
std::string cert_text(const Cert& cert, bool with_secret);
// A server's public key given as its Z85 text (40 characters) or as a cert file; throws
// std::runtime_error when it is neither.
std::string public_key(const std::string& z85_or_file);
bool is_z85_key(std::string_view text);

// inproc:// and ipc:// stay inside the machine and need no keys (nor does "", no endpoint);
// anything else (tcp://) does.
bool needs_keys(const std::string& endpoint);

// The keys of a node as written in the config file (even/common/security.h; config.h adds them
// as options).
using Options = SecurityOptions;

// The keys read from their files. `own` empty: no CURVE (insecure, or a node that only uses
// inproc:// / ipc://).
struct Keys {
  std::optional<Cert> own;
  std::string writer, reader, dispatcher, groups;  // the servers' public keys (Z85); empty when not given
};
// Reads what `options` names (nothing when insecure); throws std::runtime_error naming the file.
Keys load(const Options& options);

// Checks before start-up that `endpoint` can be used as configured; throws std::invalid_argument
// with a message naming the options to set (or --insecure). A server binds `endpoint` (needs
// curve-secret-key and allow-keys-dir); a client connects to the server whose public key option
// is `server_key_option` with value `server_key`.
void require_server_keys(const Options& options, const std::string& endpoint, const std::string& what);
void require_client_keys(const Options& options, const std::string& endpoint, const std::string& server_key,
                         const std::string& server_key_option, const std::string& what);

// The CURVE client keys for connecting to `endpoint`, a server with public key `server_key`:
// empty (plain) when this node has no key or the endpoint needs none (inproc://, ipc://).
net::CurveClient client_keys(const Keys& keys, const std::string& endpoint, const std::string& server_key);

// Makes `socket` (before bind) a CURVE server with the key pair of `own`, its clients checked by
// the ZAP handler under `role`. Only the ZAP handler (zap.h) calls this: a CURVE server without a
// handler lets every client in (libzmq 4.3 fails open).
void make_server(zmq::socket_t& socket, const Cert& own, Role role);

}  // namespace even::curve
