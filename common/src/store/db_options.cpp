#include "even/common/store/db_options.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace even::store {

bool is_loopback_url(const std::string& url) {
  if (url.rfind("unix://", 0) == 0) return true;
  std::string host = url;
  if (const auto scheme = host.find("://"); scheme != std::string::npos) host = host.substr(scheme + 3);  // tcp://, postgresql://
  if (!host.empty() && host[0] == '[') {  // [::1]:3306
    const auto end = host.find(']');
    host = host.substr(1, end == std::string::npos ? std::string::npos : end - 1);
  } else {
    host = host.substr(0, host.find_first_of(":/"));
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::vector<std::string> store_urls(const std::string& url) {
  std::vector<std::string> urls;
  std::size_t start = 0;
  while (start <= url.size()) {
    std::size_t end = url.find(',', start);
    if (end == std::string::npos) end = url.size();
    std::string one = url.substr(start, end - start);
    const auto first = one.find_first_not_of(" \t");
    if (first != std::string::npos) urls.push_back(one.substr(first, one.find_last_not_of(" \t") - first + 1));
    start = end + 1;
  }
  return urls;
}

DbOptions at_url(DbOptions db, std::string url) {
  db.url = std::move(url);
  return db;
}

bool uses_tls(const DbOptions& db) {
  if (db.tls == "on") return true;
  if (db.tls == "off") return false;
  if (db.tls == "auto") return !is_loopback_url(db.url);
  throw std::invalid_argument("db-tls must be on, off or auto (not '" + db.tls + "')");
}

std::string read_password_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("db password file '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error("db password file '" + path + "' is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::runtime_error("db password file '" + path + "' has mode " + mode +
                             ": it must be readable by its owner only (chmod 600 '" + path + "')");
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error("db password file '" + path + "': " + std::strerror(errno));
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

std::string resolve_password(const DbOptions& db) {
  return db.password_file.empty() ? db.password : read_password_file(db.password_file);
}

}  // namespace even::store
