/**
 * Schema version 1 of the trace store. Tables are STRICT so that a value of the wrong type (a
 * fractional line number, a string token count) is refused by SQLite rather than stored and
 * silently read back as something else. Child tables are WITHOUT ROWID and keyed by
 * (request_rowid, pos) so a request's rows sit together in array order, which is what lets
 * `iterateTraces` reassemble traces by walking cursors in step.
 *
 * Later versions moved every child list into a JSON column of the `requests` row (guardrail
 * results v3, steps v4, tool calls and policy decisions v5), so traces stored since v5 write no
 * child rows. The child tables stay, holding the rows of traces stored before, which are read for
 * those traces only; for SQL audit, v5's `trace_*` views list both kinds.
 */
export const SCHEMA_V1 = `
CREATE TABLE runs (
  id             TEXT PRIMARY KEY,
  name           TEXT,
  status         TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
  started_at     TEXT NOT NULL,
  finished_at    TEXT,
  candidate_ref  TEXT NOT NULL,
  candidate_hash TEXT NOT NULL,
  baseline_ref   TEXT NOT NULL,
  baseline_hash  TEXT,
  traffic_file   TEXT NOT NULL,
  traffic_hash   TEXT NOT NULL,
  model          TEXT NOT NULL,
  repeat         INTEGER NOT NULL CHECK (repeat >= 1),
  faults         TEXT,
  seed           INTEGER NOT NULL,
  requests_total INTEGER CHECK (requests_total >= 0),
  config_json    TEXT NOT NULL
) STRICT;

CREATE TABLE requests (
  id            INTEGER PRIMARY KEY,
  run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  request_id    TEXT NOT NULL,
  line          INTEGER NOT NULL CHECK (line >= 1),
  side          TEXT NOT NULL CHECK (side IN ('recorded', 'baseline', 'candidate')),
  -- The contract orders sides recorded, baseline, candidate: not alphabetical, hence a rank.
  side_rank     INTEGER GENERATED ALWAYS AS
                  (CASE side WHEN 'recorded' THEN 0 WHEN 'baseline' THEN 1 ELSE 2 END) VIRTUAL,
  repeat        INTEGER NOT NULL CHECK (repeat >= 0),
  tenant        TEXT NOT NULL,
  user          TEXT NOT NULL,
  role          TEXT NOT NULL,
  status        TEXT NOT NULL,
  final_answer  TEXT NOT NULL,
  input_tokens  INTEGER NOT NULL CHECK (input_tokens >= 0),
  output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
  model_calls   INTEGER NOT NULL CHECK (model_calls >= 0),
  cost_usd      REAL NOT NULL CHECK (cost_usd >= 0),
  latency_ms    REAL NOT NULL CHECK (latency_ms >= 0),
  budget_hits   TEXT NOT NULL,
  error         TEXT,
  UNIQUE (run_id, request_id, side, repeat)
) STRICT;

CREATE INDEX requests_by_line ON requests (run_id, line, side_rank, repeat);

CREATE TABLE steps (
  request_rowid INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  pos           INTEGER NOT NULL,
  step_index    INTEGER NOT NULL CHECK (step_index >= 0),
  state         TEXT NOT NULL,
  detail        TEXT NOT NULL,
  input_tokens  INTEGER NOT NULL CHECK (input_tokens >= 0),
  output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
  latency_ms    REAL NOT NULL CHECK (latency_ms >= 0),
  PRIMARY KEY (request_rowid, pos)
) STRICT, WITHOUT ROWID;

CREATE TABLE tool_calls (
  request_rowid   INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  pos             INTEGER NOT NULL,
  seq             INTEGER NOT NULL CHECK (seq >= 0),
  step            INTEGER NOT NULL CHECK (step >= 0),
  name            TEXT NOT NULL,
  risk            TEXT NOT NULL,
  args_json       TEXT NOT NULL,
  args_hash       TEXT NOT NULL,
  idempotency_key TEXT,
  attempt         INTEGER NOT NULL CHECK (attempt >= 1),
  outcome         TEXT NOT NULL,
  executed        INTEGER NOT NULL CHECK (executed IN (0, 1)),
  result_json     TEXT,
  error           TEXT,
  latency_ms      REAL NOT NULL CHECK (latency_ms >= 0),
  PRIMARY KEY (request_rowid, pos)
) STRICT, WITHOUT ROWID;

CREATE INDEX tool_calls_by_name ON tool_calls (name);

CREATE TABLE policy_decisions (
  request_rowid INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  pos           INTEGER NOT NULL,
  seq           INTEGER NOT NULL CHECK (seq >= 0),
  step          INTEGER NOT NULL CHECK (step >= 0),
  stage         TEXT NOT NULL,
  tool_call_seq INTEGER CHECK (tool_call_seq >= 0),
  tool          TEXT,
  decision      TEXT NOT NULL,
  reason        TEXT NOT NULL,
  rule          TEXT,
  PRIMARY KEY (request_rowid, pos)
) STRICT, WITHOUT ROWID;

CREATE INDEX policy_decisions_by_reason ON policy_decisions (decision, reason);

CREATE TABLE guardrail_results (
  request_rowid INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  pos           INTEGER NOT NULL,
  stage         TEXT NOT NULL,
  step          INTEGER NOT NULL CHECK (step >= 0),
  "check"       TEXT NOT NULL,
  passed        INTEGER NOT NULL CHECK (passed IN (0, 1)),
  severity      TEXT NOT NULL,
  detail        TEXT NOT NULL,
  PRIMARY KEY (request_rowid, pos)
) STRICT, WITHOUT ROWID;

CREATE TABLE bundles (
  hash          TEXT PRIMARY KEY,
  ref           TEXT NOT NULL,
  manifest_json TEXT NOT NULL,
  first_seen_at TEXT NOT NULL
) STRICT;
`
