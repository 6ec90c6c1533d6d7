#include "even/projector/projection.h"

#include <cstdint>
#include <cstdio>

namespace even::projector {

void Projection::setup(QueryTx&) {}
void Projection::flush(QueryTx&) {}

std::string validate_projection_name(const std::string& name) {
  if (name.empty() || name.size() > 190) return "a projection name has 1..190 bytes";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return "projection name '" + name + "' has a character outside [A-Za-z0-9_.:-]";
  }
  return {};
}

std::string stable_hash(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace even::projector
