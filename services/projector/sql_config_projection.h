// The inside of SQL-config projections (the public face is even/projector/sql_projection.h, which
// also lists the statement parameters): SqlTemplate, a statement with its :parameters found, and
// SqlProjection, the Projection that binds and queues them per event.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "even/projector/sql_projection.h"

namespace even::projector {

class QueryDialect;

// A statement with its :parameters found, ready to bind.
class SqlTemplate {
 public:
  // Throws std::invalid_argument naming an unknown parameter. The dialect decides what hides a
  // ':name' from the parser besides '...' strings and comments: MySQL "..." and `...`, backslash
  // escapes in strings and '#' comments; PostgreSQL "...", E'...' and $tag$...$tag$. A '::'
  // (PostgreSQL's cast) is never a parameter.
  static SqlTemplate parse(const std::string& sql, SqlDialect dialect = SqlDialect::mysql);

  // The event's values, parsed once per event and shared by its statements.
  struct EventValues {
    const client::RecordedEvent* event = nullptr;
    const nlohmann::json* payload = nullptr;   // null: not parsed / not JSON
    const nlohmann::json* metadata = nullptr;
  };
  // Appends the statement with every parameter replaced by a literal of the template's dialect.
  void bind(const EventValues& v, std::string& out) const;
  SqlDialect dialect() const { return dialect_; }

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
  SqlDialect dialect_ = SqlDialect::mysql;
  std::vector<Part> parts_;
  bool uses_payload_ = false, uses_metadata_ = false;
};

// Appends a JSON value as an SQL literal of `d` (see the header comment).
void append_json_literal(std::string& out, const nlohmann::json* value, const QueryDialect& d);

class SqlProjection : public Projection {
 public:
  // Throws std::invalid_argument for a bad statement parameter.
  explicit SqlProjection(SqlProjectionDef def);

  std::string name() const override { return def_.name; }
  client::Filter filter() const override { return {def_.categories, def_.event_types}; }
  std::string definition_hash() const override { return def_.definition_hash; }
  // Also parses the statements again when the query database is not MySQL (its own quoting rules).
  void setup(QueryTx& tx) override;
  void reset(QueryTx& tx) override;
  void handle(const client::RecordedEvent& e, QueryTx& tx) override;

 private:
  struct Handler {
    std::vector<SqlTemplate> statements;
    bool uses_payload = false, uses_metadata = false;
  };
  void parse_handlers(SqlDialect dialect);
  SqlProjectionDef def_;
  std::map<std::string, Handler, std::less<>> handlers_;  // parsed for handlers_dialect_
  SqlDialect handlers_dialect_ = SqlDialect::mysql;
};

}  // namespace even::projector
