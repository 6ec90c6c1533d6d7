#include "projector/query_db.h"

namespace even::projector {

const QueryDialect& query_dialect(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return postgres_dialect();
  return mysql_dialect();
}

QueryErrorKind classify_query_error(const std::exception& e) {
  for (const QueryDialect* d : {&mysql_dialect(), &postgres_dialect()}) {
    const auto kind = d->classify(e);
    if (kind != QueryErrorKind::foreign) return kind;
  }
  return QueryErrorKind::foreign;
}

std::string describe_query_error(const std::exception& e) {
  for (const QueryDialect* d : {&mysql_dialect(), &postgres_dialect()})
    if (d->classify(e) != QueryErrorKind::foreign) return d->describe(e);
  return e.what();
}

std::string QueryConnection::script_of(const std::vector<std::string>& statements) {
  std::string script;
  for (const auto& s : statements) {
    if (!script.empty()) script += ";\n";
    script += s;
  }
  return script;
}

std::optional<std::int64_t> QueryConnection::query_int(const std::string& sql) {
  const auto rows = query(sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return std::nullopt;
  return std::stoll(*rows[0][0]);
}

}  // namespace even::projector
