#include "even/common/service_scrape.h"

#include <map>

#include "even/common/metrics_http.h"

namespace even::metrics {

double Scrape::sum(const std::string& name, const Labels& match) const {
  double total = 0;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) ok = ok && s.label(k) == v;
    if (ok) total += s.value;
  }
  return total;
}

bool Scrape::has_prefix(const std::string& prefix) const {
  for (const auto& s : samples)
    if (s.name.rfind(prefix, 0) == 0) return true;
  return false;
}

double Scrape::quantile(const Scrape& before, const std::string& name, double q) const {
  const auto buckets = [&](const Scrape& from) {
    std::map<double, double> b;
    for (const auto& s : from.samples)
      if (s.name == name + "_bucket") b[std::stod(s.label("le") == "+Inf" ? "inf" : s.label("le"))] += s.value;
    return b;
  };
  auto now_b = buckets(*this), then_b = buckets(before);
  if (now_b.empty()) return 0;
  const double total = now_b.rbegin()->second - (then_b.empty() ? 0 : then_b.rbegin()->second);
  if (total <= 0) return 0;
  for (const auto& [le, c] : now_b)
    if (c - then_b[le] >= q * total) return le;
  return now_b.rbegin()->first;
}

double Scrape::rate(const Scrape& before, const std::string& name, const Labels& match) const {
  const double secs = std::chrono::duration<double>(at - before.at).count();
  if (!up || !before.up || secs <= 0) return 0;
  return (sum(name, match) - before.sum(name, match)) / secs;
}

std::string Scrape::state_of(const std::string& service) const {
  if (!up) return "down";
  if (health.is_object() && health.contains("services") && health["services"].is_array())
    for (const auto& p : health["services"])
      if (p.value("name", "") == service) return p.value("state", "?");
  return "?";
}

std::set<std::string> Scrape::label_values(const std::string& name, const std::string& label) const {
  std::set<std::string> values;
  for (const auto& s : samples)
    if (s.name == name) values.insert(s.label(label));
  return values;
}

std::string Scrape::projection_state(const std::string& projection) const {
  for (const auto& s : samples)
    if (s.name == "even_projector_state" && s.value == 1 && s.label("projection") == projection) return s.label("state");
  return "?";
}

Scrape scrape(const std::string& endpoint, std::chrono::milliseconds timeout) {
  Scrape s;
  s.endpoint = endpoint;
  s.at = std::chrono::steady_clock::now();
  auto r = http_get(endpoint, "/metrics", timeout);
  if (r.status != 200) {
    s.error = r.status ? "HTTP " + std::to_string(r.status) : r.error;
    return s;
  }
  try {
    s.samples = parse_text(r.body);
  } catch (const std::exception& e) {
    s.error = e.what();
    return s;
  }
  s.up = true;
  auto h = http_get(endpoint, "/health/ready", timeout);
  s.health = nlohmann::json::parse(h.body, nullptr, /*allow_exceptions=*/false);
  if (s.health.is_discarded()) s.health = nullptr;
  return s;
}

}  // namespace even::metrics
