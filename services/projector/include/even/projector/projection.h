// The C++ projection API: what a projection consumes, how it is versioned, how it clears and
// writes its read model. A ProjectionRunner (projection_runner.h) feeds it events in global
// order and commits each batch of read-model writes together with the projection's checkpoint,
// in one transaction of its query database (QueryTx, query_tx.h).
//
//   class Balances : public projector::Projection {
//     std::string name() const override { return "balances"; }
//     client::Filter filter() const override { return {{"account"}, {"Deposited", "Withdrawn"}}; }
//     std::string definition_hash() const override { return "balances-v2"; }
//     void setup(QueryTx& tx) override { tx.execute("CREATE TABLE IF NOT EXISTS balances (...)"); }
//     void reset(QueryTx& tx) override { tx.execute("DROP TABLE IF EXISTS balances"); }
//     void handle(const client::RecordedEvent& e, QueryTx& tx) override { tx.add("INSERT ..."); }
//   };
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "even/client/events.h"
#include "even/projector/query_tx.h"

namespace even::projector {

// A projection. Implementations need not be thread-safe: one runner thread calls them, one call
// at a time. Every call happens in a QueryTx of the projection's query database.
class Projection {
 public:
  virtual ~Projection() = default;

  // Unique within its query database: 1..190 bytes of [A-Za-z0-9_.:-]. The checkpoint's key.
  virtual std::string name() const = 0;
  // The events it consumes (categories and/or event types; empty: all events).
  virtual client::Filter filter() const = 0;
  // Identifies the definition (code version, SQL text...). When it differs from the one the
  // checkpoint was written with, the projection is rebuilt instead of mixing old and new.
  virtual std::string definition_hash() const = 0;

  // Called whenever the runner (re)starts from the checkpoint, before the first handle(): creates
  // the read model's tables if missing (idempotent) and reloads any state the projection keeps in
  // memory, since a batch that failed was rolled back. Default: nothing.
  virtual void setup(QueryTx& tx);
  // Clears the read model (rebuild, changed definition). May use DDL (DROP/TRUNCATE), which
  // commits implicitly in MySQL: the runner records "resetting" first and repeats reset() after a
  // crash, so reset() must be idempotent. setup() follows.
  virtual void reset(QueryTx& tx) = 0;
  // Applies one event. Throwing stops this projection (state "failed", the error in its
  // checkpoint row and the log); the batch is rolled back, the events before it stay applied.
  virtual void handle(const client::RecordedEvent& e, QueryTx& tx) = 0;
  // Called once per batch after its last handle(), in the same transaction, before the
  // checkpoint is written: write what handle() buffered (e.g. one multi-row INSERT). Default: nothing.
  virtual void flush(QueryTx& tx);
};

// "" when `name` is a valid projection name, else why not.
std::string validate_projection_name(const std::string& name);

// A stable 64-bit FNV-1a hash as 16 hex digits (for definition hashes).
std::string stable_hash(const std::string& text);

}  // namespace even::projector
