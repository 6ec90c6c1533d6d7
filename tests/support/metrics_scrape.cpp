#include "support/metrics_scrape.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "support/process.h"

namespace even::test {

std::string scrape(const std::string& endpoint) {
  auto r = metrics::http_get(endpoint, "/metrics");
  return r.status == 200 ? r.body : std::string();
}

double metric_value(const std::string& page, const std::string& name, const metrics::Labels& match) {
  double sum = 0;
  bool found = false;
  for (const auto& s : metrics::parse_text(page)) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) ok = ok && s.label(k) == v;
    if (!ok) continue;
    sum += s.value;
    found = true;
  }
  return found ? sum : -1;
}

std::string promtool_check(const std::string& page) {
  static int n = 0;
  const std::string path = ::testing::TempDir() + "promtool-" + std::to_string(::getpid()) + "-" +
                           std::to_string(n++) + ".txt";
  std::ofstream(path) << page;
  std::string out;
  const int rc = run_tool({"/bin/sh", "-c", "promtool check metrics < '" + path + "'"}, &out);
  std::remove(path.c_str());
  if (rc == 0) return "";
  return "promtool check metrics exited with " + std::to_string(rc) +
         " (is the Debian package prometheus installed?):\n" + out;
}

}  // namespace even::test
