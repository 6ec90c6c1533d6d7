#include "projector/projector_config.h"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace even::projector {

namespace {

using json = nlohmann::json;

std::vector<std::string> strings(const json& j, const std::string& key, const std::string& where) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  const auto& v = j.at(key);
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) throw std::runtime_error(where + ": \"" + key + "\" must be a string or a list of strings");
  for (const auto& s : v) {
    if (!s.is_string()) throw std::runtime_error(where + ": \"" + key + "\" must list strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

void check_keys(const json& j, const std::set<std::string>& known, const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw std::runtime_error(where + ": unknown key \"" + it.key() + "\"");
}

void check_filter(const client::Filter& f, const std::string& where) {
  for (const auto& c : f.categories)
    if (!validate_stream_name(c).empty() || c.find('-') != std::string::npos)
      throw std::runtime_error(where + ": \"" + c + "\" is not a category (a stream name's part before its first '-')");
  for (const auto& t : f.event_types)
    if (auto why = validate_event_type(t); !why.empty()) throw std::runtime_error(where + ": " + why);
}

SqlProjectionDef parse_projection(const json& j, const std::string& where0) {
  if (!j.is_object()) throw std::runtime_error(where0 + ": a projection is an object");
  check_keys(j, {"name", "database", "categories", "version", "setup", "reset", "events"}, where0);
  SqlProjectionDef d;
  if (!j.contains("name") || !j.at("name").is_string()) throw std::runtime_error(where0 + ": needs a \"name\"");
  d.name = j.at("name").get<std::string>();
  const std::string where = where0 + " (" + d.name + ")";
  if (auto why = validate_projection_name(d.name); !why.empty()) throw std::runtime_error(where + ": " + why);
  if (j.contains("database")) {
    if (!j.at("database").is_string()) throw std::runtime_error(where + ": \"database\" is a database name");
    d.database = j.at("database").get<std::string>();
    store::identifier(d.database);  // throws for a bad name
  }
  d.categories = strings(j, "categories", where);
  d.setup = strings(j, "setup", where);
  d.reset = strings(j, "reset", where);
  if (d.reset.empty()) throw std::runtime_error(where + ": needs \"reset\" statements (how to clear its read model)");
  if (!j.contains("events") || !j.at("events").is_object() || j.at("events").empty())
    throw std::runtime_error(where + ": needs \"events\": {\"EventType\": \"SQL\" or [\"SQL\", ...]}");
  for (auto it = j.at("events").begin(); it != j.at("events").end(); ++it) {
    d.event_types.push_back(it.key());
    d.handlers[it.key()] = strings(j.at("events"), it.key(), where + " events");
  }
  check_filter({d.categories, d.event_types}, where);
  json canonical = j;
  canonical.erase("name");
  canonical.erase("database");
  d.definition_hash = stable_hash(canonical.dump());  // nlohmann::json keeps keys sorted: stable text
  try {
    SqlProjection check(d);  // parses every statement's parameters
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  return d;
}

ProjectionStreamDef parse_stream(const json& j, const std::string& where0) {
  if (!j.is_object()) throw std::runtime_error(where0 + ": a projection stream is an object");
  check_keys(j, {"name", "categories", "event_types"}, where0);
  ProjectionStreamDef d;
  if (!j.contains("name") || !j.at("name").is_string()) throw std::runtime_error(where0 + ": needs a \"name\"");
  d.name = j.at("name").get<std::string>();
  const std::string where = where0 + " (" + d.name + ")";
  if (auto why = validate_projection_name(d.name); !why.empty()) throw std::runtime_error(where + ": " + why);
  d.filter.categories = strings(j, "categories", where);
  d.filter.event_types = strings(j, "event_types", where);
  if (d.filter.empty()) throw std::runtime_error(where + ": needs \"categories\" and/or \"event_types\"");
  check_filter(d.filter, where);
  return d;
}

}  // namespace

ProjectorConfig parse_projector_config(const std::string& text, const std::string& origin) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (root.is_discarded()) throw std::runtime_error(origin + ": not valid JSON");
  if (!root.is_object()) throw std::runtime_error(origin + ": the top level is an object");
  check_keys(root, {"projections", "projection_streams"}, origin);
  ProjectorConfig c;
  std::set<std::string> names;
  if (root.contains("projections")) {
    const auto& list = root.at("projections");
    if (!list.is_array()) throw std::runtime_error(origin + ": \"projections\" is a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      c.projections.push_back(parse_projection(list[i], origin + ": projections[" + std::to_string(i) + "]"));
      if (!names.insert(c.projections.back().database + "/" + c.projections.back().name).second)
        throw std::runtime_error(origin + ": projection \"" + c.projections.back().name + "\" is defined twice");
    }
  }
  names.clear();
  if (root.contains("projection_streams")) {
    const auto& list = root.at("projection_streams");
    if (!list.is_array()) throw std::runtime_error(origin + ": \"projection_streams\" is a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      c.projection_streams.push_back(parse_stream(list[i], origin + ": projection_streams[" + std::to_string(i) + "]"));
      if (!names.insert(c.projection_streams.back().name).second)
        throw std::runtime_error(origin + ": projection stream \"" + c.projection_streams.back().name +
                                 "\" is defined twice");
    }
  }
  return c;
}

ProjectorConfig load_projector_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the projections file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_projector_config(ss.str(), path);
}

std::vector<std::shared_ptr<Projection>> load_sql_projections(const std::string& path) {
  std::vector<std::shared_ptr<Projection>> out;
  for (auto& def : load_projector_config(path).projections) out.push_back(make_sql_projection(std::move(def)));
  return out;
}

}  // namespace even::projector
