#include "even/common/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace even::curve {

namespace {

constexpr const char* kRoleNames[] = {"append", "read", "subscribe", "feed"};

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// A ZPL value: "quoted", 'quoted' or bare.
std::string unquote(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
  return std::string(v);
}

void write_new_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // whatever the umask
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

const char* role_name(Role role) { return kRoleNames[static_cast<int>(role)]; }

std::optional<Role> role_from_name(std::string_view name) {
  for (int i = 0; i < 4; ++i)
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  return std::nullopt;
}

std::set<Role> parse_roles(std::string_view text) {
  std::set<Role> roles;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto end = text.find_first_of(", \t", i);
    const auto word = text.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    if (!word.empty()) {
      auto role = role_from_name(word);
      if (!role)
        throw std::invalid_argument("unknown role '" + std::string(word) + "' (roles: append, read, subscribe, feed)");
      roles.insert(*role);
    }
    if (end == std::string_view::npos) break;
    i = end + 1;
  }
  return roles;
}

std::string roles_text(const std::set<Role>& roles) {
  std::string out;
  for (Role r : roles) {
    if (!out.empty()) out += ' ';
    out += role_name(r);
  }
  return out;
}

std::string Cert::metadata_value(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return v;
  return "";
}

bool is_z85_key(std::string_view text) {
  if (text.size() != kKeyChars) return false;
  std::uint8_t bytes[32];
  const std::string s(text);
  return zmq_z85_decode(bytes, s.c_str()) != nullptr;
}

Cert generate(std::vector<std::pair<std::string, std::string>> metadata) {
  char pub[kKeyChars + 1], sec[kKeyChars + 1];
  if (zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error(std::string("zmq_curve_keypair failed (libzmq built without CURVE?): ") +
                             zmq_strerror(zmq_errno()));
  Cert c;
  c.public_key = pub;
  c.secret_key = sec;
  c.metadata = std::move(metadata);
  return c;
}

Cert load_cert(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read key file " + path + ": " + std::strerror(errno));
  Cert c;
  std::string section, line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string_view text(line);
    const auto body = trim(text);
    if (body.empty() || body.front() == '#') continue;
    const bool indented = text.front() == ' ' || text.front() == '\t';
    const auto eq = body.find('=');
    if (!indented) {
      if (eq != std::string_view::npos)
        throw std::runtime_error(path + ":" + std::to_string(number) + ": expected a section name (metadata, curve)");
      section = std::string(body);
      continue;
    }
    if (eq == std::string_view::npos)
      throw std::runtime_error(path + ":" + std::to_string(number) + ": expected NAME = \"VALUE\"");
    const std::string key(trim(body.substr(0, eq)));
    std::string value = unquote(body.substr(eq + 1));
    if (section == "metadata") {
      c.metadata.emplace_back(key, std::move(value));
    } else if (section == "curve") {
      if (key == "public-key") c.public_key = std::move(value);
      else if (key == "secret-key") c.secret_key = std::move(value);
    }
  }
  if (!is_z85_key(c.public_key))
    throw std::runtime_error(path + ": no valid public-key (40 characters of Z85) in its curve section");
  if (!c.secret_key.empty() && !is_z85_key(c.secret_key))
    throw std::runtime_error(path + ": secret-key is not 40 characters of Z85");
  return c;
}

std::string cert_text(const Cert& cert, bool with_secret) {
  std::ostringstream out;
  if (with_secret) {
    out << "#   ZeroMQ CURVE **Secret** Certificate\n"
           "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n";
  } else {
    out << "#   ZeroMQ CURVE Public Certificate\n"
           "#   Exchange securely, or use a secure mechanism to verify the contents\n"
           "#   of this file after exchange.\n\n";
  }
  out << "metadata\n";
  for (const auto& [k, v] : cert.metadata) out << "    " << k << " = \"" << v << "\"\n";
  out << "curve\n    public-key = \"" << cert.public_key << "\"\n";
  if (with_secret) out << "    secret-key = \"" << cert.secret_key << "\"\n";
  return out.str();
}

void save_cert(const Cert& cert, const std::string& public_path, const std::string& secret_path) {
  for (const auto& p : {public_path, secret_path})
    if (file_exists(p)) throw std::runtime_error(p + " exists; not overwriting it (remove it first to make a new key)");
  write_new_file(secret_path, cert_text(cert, true), 0600);
  try {
    write_new_file(public_path, cert_text(cert, false), 0644);
  } catch (...) {
    ::unlink(secret_path.c_str());
    throw;
  }
}

std::string public_key(const std::string& z85_or_file) {
  if (is_z85_key(z85_or_file)) return z85_or_file;
  return load_cert(z85_or_file).public_key;
}

bool needs_keys(const std::string& endpoint) {
  return !endpoint.empty() && endpoint.rfind("inproc://", 0) != 0 && endpoint.rfind("ipc://", 0) != 0;
}

Keys load(const Options& o) {
  Keys k;
  if (o.insecure) return k;
  if (!o.secret_key.empty()) {
    k.own = load_cert(o.secret_key);
    if (k.own->secret_key.empty())
      throw std::runtime_error(o.secret_key + " holds no secret-key: curve-secret-key names a NAME.key_secret file");
  }
  if (!o.writer_public_key.empty()) k.writer = public_key(o.writer_public_key);
  if (!o.reader_public_key.empty()) k.reader = public_key(o.reader_public_key);
  if (!o.dispatcher_public_key.empty()) k.dispatcher = public_key(o.dispatcher_public_key);
  if (!o.groups_public_key.empty()) k.groups = public_key(o.groups_public_key);
  return k;
}

void require_server_keys(const Options& o, const std::string& endpoint, const std::string& what) {
  if (o.insecure || !needs_keys(endpoint)) return;
  if (o.secret_key.empty() || o.allow_keys_dir.empty())
    throw std::invalid_argument(what + " " + endpoint +
                                " is a network endpoint: set curve-secret-key (this server's secret cert) and "
                                "allow-keys-dir (the public certs of the clients it lets in), or --insecure for "
                                "plain TCP");
}

void require_client_keys(const Options& o, const std::string& endpoint, const std::string& server_key,
                         const std::string& server_key_option, const std::string& what) {
  if (o.insecure || !needs_keys(endpoint)) return;
  if (o.secret_key.empty() || server_key.empty())
    throw std::invalid_argument(what + " " + endpoint +
                                " is a network endpoint: set curve-secret-key (this node's secret cert) and " +
                                server_key_option + " (the server's public cert), or --insecure for plain TCP");
}

net::CurveClient client_keys(const Keys& keys, const std::string& endpoint, const std::string& server_key) {
  if (!keys.own || !needs_keys(endpoint)) return {};
  if (server_key.empty()) throw std::runtime_error("no public key configured for the server at " + endpoint);
  return {server_key, keys.own->public_key, keys.own->secret_key};
}

void make_server(zmq::socket_t& s, const Cert& own, Role role) {
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, own.secret_key);
  s.set(zmq::sockopt::zap_domain, role_name(role));
}

}  // namespace even::curve
