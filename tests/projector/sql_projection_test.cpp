// SQL-config projections without a database: statement parameters, safe binding, config errors.
#include <gtest/gtest.h>

#include "projector/projector_config.h"
#include "projector/sql_config_projection.h"

namespace even::projector {
namespace {

std::string bind(const std::string& sql, const client::RecordedEvent& e, SqlDialect dialect = SqlDialect::mysql) {
  auto t = SqlTemplate::parse(sql, dialect);
  nlohmann::json payload = nlohmann::json::parse(e.payload, nullptr, false);
  SqlTemplate::EventValues v;
  v.event = &e;
  if (!payload.is_discarded()) v.payload = &payload;
  std::string out;
  t.bind(v, out);
  return out;
}

client::RecordedEvent event(std::string payload) {
  client::RecordedEvent e;
  e.global_seq = GlobalSeq(42);
  e.stream = "acct-7";
  e.stream_seq = StreamSeq(3);
  e.type = "Deposited";
  e.created_at_us = 1700000000123456;
  e.payload = std::move(payload);
  return e;
}

TEST(SqlTemplateTest, BindsEventFieldsAndPayloadFields) {
  auto e = event(R"({"amount": 12, "who": {"name": "O'Brien"}, "tags": ["a", "b"], "ok": true, "x": 1.5})");
  EXPECT_EQ(bind("INSERT INTO t VALUES (:global_seq, :stream, :stream_seq, :type, :category)", e),
            "INSERT INTO t VALUES (42, 'acct-7', 3, 'Deposited', 'acct')");
  EXPECT_EQ(bind("UPDATE t SET a = a + :payload.amount, w = :payload.who.name WHERE k = :payload.tags.1", e),
            "UPDATE t SET a = a + 12, w = 'O\\'Brien' WHERE k = 'b'");
  EXPECT_EQ(bind("SELECT :payload.ok, :payload.x, :payload.missing, :payload.who", e),
            "SELECT TRUE, 1.5, NULL, '{\"name\":\"O\\'Brien\"}'");
  EXPECT_EQ(bind("SELECT :created_at", e), "SELECT '2023-11-14 22:13:20.123456'");
}

TEST(SqlTemplateTest, LeavesQuotedTextAndCommentsAlone) {
  auto e = event("{}");
  EXPECT_EQ(bind("SELECT ':stream', \":type\", `:x`, 'it''s :stream' -- :global_seq\n, :stream_seq", e),
            "SELECT ':stream', \":type\", `:x`, 'it''s :stream' -- :global_seq\n, 3");
  EXPECT_EQ(bind("SELECT /* :stream */ :stream.", e), "SELECT /* :stream */ 'acct-7'.");
}

TEST(SqlTemplateTest, PayloadCannotChangeTheStatement) {
  auto e = event(R"({"name": "x'); DROP TABLE t; --", "n": "1 OR 1=1"})");
  EXPECT_EQ(bind("INSERT INTO t VALUES (:payload.name, :payload.n)", e),
            "INSERT INTO t VALUES ('x\\'); DROP TABLE t; --', '1 OR 1=1')");
  e.stream = "a\\'b";
  EXPECT_EQ(bind("SELECT :stream", e), "SELECT 'a\\\\\\'b'");
}

TEST(SqlTemplateTest, NonJsonPayloadBindsNull) {
  auto e = event("not json");
  EXPECT_EQ(bind("SELECT :payload.amount, :payload", e), "SELECT NULL, 'not json'");
}

// PostgreSQL (standard_conforming_strings): only quotes are doubled, a backslash is itself.
TEST(SqlTemplateTest, PostgresQuotingHasNoBackslashEscapes) {
  const auto pg = SqlDialect::postgresql;
  auto e = event(R"({"name": "x'); DROP TABLE t; --", "path": "C:\\temp\\", "who": {"n": "O'B"}})");
  EXPECT_EQ(bind("INSERT INTO t VALUES (:payload.name, :payload.path, :payload.who)", e, pg),
            "INSERT INTO t VALUES ('x''); DROP TABLE t; --', 'C:\\temp\\', '{\"n\":\"O''B\"}')");
  e.stream = "a\\'b";
  EXPECT_EQ(bind("SELECT :stream", e, pg), "SELECT 'a\\''b'");
  // A NUL byte cannot be PostgreSQL text: an error, not a truncated value.
  e.stream = std::string("a\0b", 3);
  EXPECT_THROW(bind("SELECT :stream", e, pg), std::invalid_argument);
}

TEST(SqlTemplateTest, PostgresSyntaxIsNotMistakenForParameters) {
  const auto pg = SqlDialect::postgresql;
  auto e = event(R"({"amount": 5, "doc": {"a": 1}})");
  // Casts, a backslash that does not escape the quote, '#' operators, E'' and dollar quoting.
  EXPECT_EQ(bind("SELECT :payload.amount::bigint, :payload.doc::jsonb #> '{a}', 'x\\' || :stream", e, pg),
            "SELECT 5::bigint, '{\"a\":1}'::jsonb #> '{a}', 'x\\' || 'acct-7'");
  EXPECT_EQ(bind("SELECT E'it\\'s :stream', $$ :stream $$, $q$ :type $q$, :stream_seq", e, pg),
            "SELECT E'it\\'s :stream', $$ :stream $$, $q$ :type $q$, 3");
  // In MySQL the same backslash escapes the quote, and '#' starts a comment.
  EXPECT_EQ(bind("SELECT 'x\\' :stream', :stream # :type", e), "SELECT 'x\\' :stream', 'acct-7' # :type");
}

// PostgreSQL's comments: "--" needs no space after it and "/* */" nest. A parameter bound inside
// what the server reads as a comment could end the comment with a newline from the event.
TEST(SqlTemplateTest, PostgresCommentsAreReadAsPostgresReadsThem) {
  const auto pg = SqlDialect::postgresql;
  auto e = event(R"({"amount": 5})");
  EXPECT_EQ(bind("SELECT :stream_seq --TODO: use :type\n, :stream_seq", e, pg), "SELECT 3 --TODO: use :type\n, 3");
  EXPECT_EQ(bind("SELECT /* a /* :type */ :stream */ :stream_seq", e, pg), "SELECT /* a /* :type */ :stream */ 3");
  // MySQL: "--" without white space is two minus signs, and block comments do not nest.
  EXPECT_EQ(bind("SELECT 1--:stream_seq", e), "SELECT 1--3");
  EXPECT_EQ(bind("SELECT /* a /* :type */ :stream_seq", e), "SELECT /* a /* :type */ 3");
}

TEST(SqlTemplateTest, PostgresBinaryPayloadIsBytea) {
  auto e = event(std::string("\x01\0\xff", 3));
  e.format = PayloadFormat::binary;
  EXPECT_EQ(bind("INSERT INTO t VALUES (:payload)", e, SqlDialect::postgresql),
            "INSERT INTO t VALUES ('\\x0100ff'::bytea)");
  e.payload = "{\"a\": 1}";
  e.format = PayloadFormat::json;
  EXPECT_EQ(bind("INSERT INTO t VALUES (:payload)", e, SqlDialect::postgresql), "INSERT INTO t VALUES ('{\"a\": 1}')");
}

TEST(SqlTemplateTest, UnknownParameterIsAnError) {
  EXPECT_THROW(SqlTemplate::parse("SELECT :nope"), std::invalid_argument);
  EXPECT_NO_THROW(SqlTemplate::parse("SELECT @a := 1, '10:30'"));
}

TEST(ProjectorConfigTest, ParsesProjectionsAndStreams) {
  auto c = parse_projector_config(R"J({
    "projections": [{"name": "p", "categories": ["acct"], "setup": "CREATE TABLE IF NOT EXISTS t (a INT)",
                     "reset": ["DROP TABLE IF EXISTS t"], "events": {"A": "INSERT INTO t VALUES (:payload.a)",
                                                                     "B": ["DELETE FROM t", "SELECT 1"]}}],
    "projection_streams": [{"name": "s", "event_types": ["A"]}]})J",
                                  "test");
  ASSERT_EQ(c.projections.size(), 1u);
  EXPECT_EQ(c.projections[0].event_types, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(c.projections[0].handlers.at("B").size(), 2u);
  EXPECT_EQ(c.projections[0].definition_hash.size(), 16u);
  ASSERT_EQ(c.projection_streams.size(), 1u);
  EXPECT_EQ(c.projection_streams[0].filter.event_types, (std::vector<std::string>{"A"}));
}

TEST(ProjectorConfigTest, DefinitionHashFollowsTheStatements) {
  auto hash = [](const std::string& stmt) {
    return parse_projector_config(R"({"projections": [{"name": "p", "reset": "DELETE FROM t", "events": {"A": ")" +
                                      stmt + R"("}}]})",
                                  "test")
        .projections[0]
        .definition_hash;
  };
  EXPECT_EQ(hash("INSERT INTO t VALUES (1)"), hash("INSERT INTO t VALUES (1)"));
  EXPECT_NE(hash("INSERT INTO t VALUES (1)"), hash("INSERT INTO t VALUES (2)"));
}

TEST(ProjectorConfigTest, RejectsBadConfigsClearly) {
  auto error = [](const std::string& text) {
    try {
      parse_projector_config(text, "f.json");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error(R"({"projections": [{"name": "p", "events": {"A": "X"}}]})").find("needs \"reset\""), std::string::npos);
  EXPECT_NE(error(R"({"projections": [{"name": "p", "reset": "X", "events": {"A": "SELECT :bogus"}}]})")
                .find("unknown parameter ':bogus'"),
            std::string::npos);
  EXPECT_NE(error(R"({"projections": [{"name": "bad name", "reset": "X", "events": {"A": "X"}}]})").find("character"),
            std::string::npos);
  EXPECT_NE(error(R"({"projection_streams": [{"name": "s"}]})").find("needs \"categories\""), std::string::npos);
  EXPECT_NE(error(R"({"projection_streams": [{"name": "s", "categories": ["a-b"]}]})").find("not a category"),
            std::string::npos);
  EXPECT_NE(error(R"({"typo": 1})").find("unknown key \"typo\""), std::string::npos);
}

}  // namespace
}  // namespace even::projector
