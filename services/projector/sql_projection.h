// SQL-config projections: a read model kept current by SQL statements per event type, with
// parameters bound from the event, configured in the projector's JSON file (projector_config.h),
// no code.
//
// Parameters, written :name in a statement (outside quotes and comments):
//   :global_seq :stream :stream_seq :category :type :event_id (UUID text) :created_at_us
//   :created_at ('YYYY-MM-DD HH:MM:SS.ffffff', UTC, for DATETIME(6) columns)
//   :payload / :metadata          the whole payload / metadata as text
//   :payload.a.b / :metadata.a.b  a field of the JSON payload / metadata (array elements by index:
//                                 :payload.items.0); strings are quoted, numbers and booleans
//                                 written as literals, objects and arrays as JSON text, and a
//                                 missing field (or a payload that is not JSON) as NULL.
// Every value is put into the SQL text through store::append_quoted or as a number rendered
// here, never pasted raw; so a payload cannot change a statement's structure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "projector/projection.h"

namespace even::projector {

// A statement with its :parameters found, ready to bind.
class SqlTemplate {
 public:
  // Throws std::invalid_argument naming an unknown parameter.
  static SqlTemplate parse(const std::string& sql);

  // The event's values, parsed once per event and shared by its statements.
  struct EventValues {
    const client::RecordedEvent* event = nullptr;
    const nlohmann::json* payload = nullptr;   // null: not parsed / not JSON
    const nlohmann::json* metadata = nullptr;
  };
  // Appends the statement with every parameter replaced by a literal.
  void bind(const EventValues& v, std::string& out) const;

  bool uses_payload() const { return uses_payload_; }
  bool uses_metadata() const { return uses_metadata_; }
  const std::string& text() const { return text_; }

 private:
  enum class Param { none, global_seq, stream, stream_seq, category, type, event_id, created_at_us, created_at,
                     payload, metadata, payload_field, metadata_field };
  struct Part {
    std::string literal;  // SQL text before the parameter
    Param param = Param::none;
    std::vector<std::string> path;  // payload_field / metadata_field
  };
  std::string text_;
  std::vector<Part> parts_;
  bool uses_payload_ = false, uses_metadata_ = false;
};

// Appends a JSON value as an SQL literal (see the header comment).
void append_json_literal(std::string& out, const nlohmann::json* value);

struct SqlProjectionDef {
  std::string name;
  std::string database;                  // query database name; empty: the projector's --query-db-name
  std::vector<std::string> categories;   // optional category filter
  std::vector<std::string> event_types;  // the handlers' event types
  std::vector<std::string> setup;        // CREATE TABLE IF NOT EXISTS ... (run at every start)
  std::vector<std::string> reset;        // clear the read model (rebuild)
  std::map<std::string, std::vector<std::string>> handlers;  // event type -> statements, in order
  std::string definition_hash;           // of everything above but name and database
};

class SqlProjection : public Projection {
 public:
  // Throws std::invalid_argument for a bad statement parameter.
  explicit SqlProjection(SqlProjectionDef def);

  std::string name() const override { return def_.name; }
  client::Filter filter() const override { return {def_.categories, def_.event_types}; }
  std::string definition_hash() const override { return def_.definition_hash; }
  void setup(QueryTx& tx) override;
  void reset(QueryTx& tx) override;
  void handle(const client::RecordedEvent& e, QueryTx& tx) override;

 private:
  struct Handler {
    std::vector<SqlTemplate> statements;
    bool uses_payload = false, uses_metadata = false;
  };
  SqlProjectionDef def_;
  std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace even::projector
