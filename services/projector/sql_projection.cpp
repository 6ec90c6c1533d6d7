#include "projector/sql_config_projection.h"

#include "projector/query_db.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace even::projector {

namespace {

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '.'; }

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

const nlohmann::json* lookup(const nlohmann::json* root, const std::vector<std::string>& path) {
  const nlohmann::json* j = root;
  for (const auto& key : path) {
    if (!j) return nullptr;
    if (j->is_object()) {
      auto it = j->find(key);
      j = it == j->end() ? nullptr : &*it;
    } else if (j->is_array()) {
      if (key.empty() || key.find_first_not_of("0123456789") != std::string::npos) return nullptr;
      const auto i = std::stoull(key);
      j = i < j->size() ? &(*j)[i] : nullptr;
    } else {
      return nullptr;
    }
  }
  return j;
}

void append_datetime(std::string& out, std::int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "'%04d-%02d-%02d %02d:%02d:%02d.%06ld'", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  out += buf;
}

}  // namespace

SqlTemplate SqlTemplate::parse(const std::string& sql, SqlDialect dialect) {
  const bool mysql = dialect == SqlDialect::mysql;
  SqlTemplate t;
  t.text_ = sql;
  t.dialect_ = dialect;
  Part cur;
  std::size_t i = 0;
  const std::size_t n = sql.size();
  auto copy_until = [&](std::size_t end) {
    cur.literal.append(sql, i, end - i);
    i = end;
  };
  while (i < n) {
    const char c = sql[i];
    if (c == ':' && i + 1 < n && sql[i + 1] == ':') {
      cur.literal += "::";  // PostgreSQL's cast, never a parameter
      i += 2;
    } else if (!mysql && c == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
      // A dollar-quoted string $tag$...$tag$ (or a positional $1, copied as it is).
      std::size_t j = i + 1;
      while (j < n && (ident_start(sql[j]) || (sql[j] >= '0' && sql[j] <= '9'))) ++j;
      if (j < n && sql[j] == '$') {
        const std::string tag = sql.substr(i, j - i + 1);
        const auto end = sql.find(tag, j + 1);
        copy_until(end == std::string::npos ? n : end + tag.size());
      } else {
        copy_until(j);
      }
    } else if (c == '\'' || c == '"' || (mysql && c == '`')) {
      // A quoted string or identifier: skip to its end (doubled quotes escape; so do backslashes
      // in MySQL strings and PostgreSQL E'...' strings).
      bool escapes = false;
      if (mysql) escapes = c != '`';
      else if (c == '\'') escapes = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !ident_char(sql[i - 2]));
      std::size_t j = i + 1;
      while (j < n) {
        if (sql[j] == '\\' && escapes) {
          j += 2;
          continue;
        }
        if (sql[j] == c) {
          if (j + 1 < n && sql[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      copy_until(std::min(n, j + 1));
    } else if ((c == '-' && i + 1 < n && sql[i + 1] == '-' &&
                (!mysql || i + 2 == n || std::isspace(static_cast<unsigned char>(sql[i + 2])))) ||
               (mysql && c == '#')) {
      // A line comment: MySQL wants white space after "--", PostgreSQL takes any "--".
      auto end = sql.find('\n', i);
      copy_until(end == std::string::npos ? n : end);
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      // A block comment; PostgreSQL's nest ("/* a /* b */ still a comment */"), MySQL's do not.
      std::size_t j = i + 2;
      for (int depth = 1; j < n && depth > 0;) {
        if (sql.compare(j, 2, "*/") == 0) {
          --depth;
          j += 2;
        } else if (!mysql && sql.compare(j, 2, "/*") == 0) {
          ++depth;
          j += 2;
        } else {
          ++j;
        }
      }
      copy_until(std::min(n, j));
    } else if (c == ':' && i + 1 < n && ident_start(sql[i + 1])) {
      std::size_t j = i + 1;
      while (j < n && ident_char(sql[j])) ++j;
      while (j > i + 1 && sql[j - 1] == '.') --j;  // a trailing '.' ends the sentence, not the name
      const std::string name = sql.substr(i + 1, j - i - 1);
      static const std::map<std::string, Param, std::less<>> kFixed = {
          {"global_seq", Param::global_seq}, {"stream", Param::stream}, {"stream_seq", Param::stream_seq},
          {"category", Param::category}, {"type", Param::type}, {"event_id", Param::event_id},
          {"created_at_us", Param::created_at_us}, {"created_at", Param::created_at}, {"payload", Param::payload},
          {"metadata", Param::metadata}};
      if (auto it = kFixed.find(name); it != kFixed.end()) {
        cur.param = it->second;
      } else if (name.rfind("payload.", 0) == 0 && name.size() > 8) {
        cur.param = Param::payload_field;
        cur.path = split_path(name.substr(8));
      } else if (name.rfind("metadata.", 0) == 0 && name.size() > 9) {
        cur.param = Param::metadata_field;
        cur.path = split_path(name.substr(9));
      } else {
        throw std::invalid_argument("unknown parameter ':" + name + "' in statement: " + sql +
                                    " (known: :global_seq :stream :stream_seq :category :type :event_id "
                                    ":created_at_us :created_at :payload :metadata :payload.FIELD :metadata.FIELD)");
      }
      if (cur.param == Param::payload || cur.param == Param::payload_field) t.uses_payload_ = true;
      if (cur.param == Param::metadata || cur.param == Param::metadata_field) t.uses_metadata_ = true;
      t.parts_.push_back(std::move(cur));
      cur = Part{};
      i = j;
    } else {
      cur.literal.push_back(c);
      ++i;
    }
  }
  t.parts_.push_back(std::move(cur));
  return t;
}

void append_json_literal(std::string& out, const nlohmann::json* v, const QueryDialect& d) {
  if (!v || v->is_null()) {
    out += "NULL";
  } else if (v->is_boolean()) {
    out += v->get<bool>() ? "TRUE" : "FALSE";
  } else if (v->is_number_unsigned()) {
    out += std::to_string(v->get<std::uint64_t>());
  } else if (v->is_number_integer()) {
    out += std::to_string(v->get<std::int64_t>());
  } else if (v->is_number_float()) {
    out += v->dump();  // JSON number text is a valid SQL numeric literal
  } else if (v->is_string()) {
    d.append_quoted(out, v->get_ref<const std::string&>());
  } else {
    d.append_quoted(out, v->dump());
  }
}

void SqlTemplate::bind(const EventValues& v, std::string& out) const {
  const auto& e = *v.event;
  const QueryDialect& d = dialect_ == SqlDialect::postgresql ? postgres_dialect() : mysql_dialect();
  for (const auto& p : parts_) {
    out += p.literal;
    switch (p.param) {
      case Param::none: break;
      case Param::global_seq: out += std::to_string(e.global_seq.value()); break;
      case Param::stream: d.append_quoted(out, e.stream); break;
      case Param::stream_seq: out += std::to_string(e.stream_seq.value()); break;
      case Param::category: d.append_quoted(out, category_of(e.stream)); break;
      case Param::type: d.append_quoted(out, e.type); break;
      case Param::event_id: d.append_quoted(out, e.id.to_string()); break;
      case Param::created_at_us: out += std::to_string(e.created_at_us); break;
      case Param::created_at: append_datetime(out, e.created_at_us); break;
      case Param::payload:
        // A JSON payload is text; a binary one is bytes (PostgreSQL: bytea).
        if (e.format == client::PayloadFormat::json) d.append_quoted(out, e.payload);
        else d.append_bytes(out, e.payload);
        break;
      case Param::metadata: d.append_quoted(out, e.metadata); break;
      case Param::payload_field: append_json_literal(out, lookup(v.payload, p.path), d); break;
      case Param::metadata_field: append_json_literal(out, lookup(v.metadata, p.path), d); break;
    }
  }
}

SqlProjection::SqlProjection(SqlProjectionDef def) : def_(std::move(def)) { parse_handlers(SqlDialect::mysql); }

void SqlProjection::parse_handlers(SqlDialect dialect) {
  handlers_.clear();
  handlers_dialect_ = dialect;
  for (const auto& [type, statements] : def_.handlers) {
    Handler h;
    for (const auto& s : statements) {
      h.statements.push_back(SqlTemplate::parse(s, dialect));
      h.uses_payload = h.uses_payload || h.statements.back().uses_payload();
      h.uses_metadata = h.uses_metadata || h.statements.back().uses_metadata();
    }
    handlers_.emplace(type, std::move(h));
  }
}

void SqlProjection::setup(QueryTx& tx) {
  if (tx.dialect() != handlers_dialect_) parse_handlers(tx.dialect());
  for (const auto& s : def_.setup) tx.add(s);
}

void SqlProjection::reset(QueryTx& tx) {
  for (const auto& s : def_.reset) tx.add(s);
}

void SqlProjection::handle(const client::RecordedEvent& e, QueryTx& tx) {
  auto it = handlers_.find(e.type);
  if (it == handlers_.end()) return;  // a category filter brought an event type it does not map
  const Handler& h = it->second;
  nlohmann::json payload, metadata;
  SqlTemplate::EventValues v;
  v.event = &e;
  if (h.uses_payload && e.format == client::PayloadFormat::json) {
    payload = nlohmann::json::parse(e.payload, nullptr, /*allow_exceptions=*/false);
    if (!payload.is_discarded()) v.payload = &payload;
  }
  if (h.uses_metadata && !e.metadata.empty()) {
    metadata = nlohmann::json::parse(e.metadata, nullptr, /*allow_exceptions=*/false);
    if (!metadata.is_discarded()) v.metadata = &metadata;
  }
  for (const auto& s : h.statements) {
    std::string sql;
    sql.reserve(s.text().size() + 64);
    s.bind(v, sql);
    tx.add(std::move(sql));
  }
}

std::shared_ptr<Projection> make_sql_projection(SqlProjectionDef def) {
  return std::make_shared<SqlProjection>(std::move(def));
}

}  // namespace even::projector
