/**
 * The trace store's schema, whole. A new store gets all of it in one transaction and
 * `PRAGMA user_version = SCHEMA_VERSION`; a store with any other version is refused by
 * src/store/database.ts, never altered, so there is no migration code and no reader of an older
 * layout.
 *
 * Numbers only ever grow. Builds before the first schema of this kind wrote v1–v6, whose v6 stores
 * may hold traces in the per-row child tables this schema no longer has; v7 was this schema without
 * `golden_json`, `guardrail_failures_json` and `diverged_json`, and v8 (written only by unmerged
 * experimental builds) had one or two of them. Reusing an older number would open such a store as
 * current and read its traces back with empty lists (or fail on a missing column); a number no
 * earlier build wrote makes every one of them a clear refusal instead. Change the schema: bump the
 * number (the older stores are then refused the same way). v9 had no `approval_decisions` table and
 * no approval element in a tool call's tuple. v10 had no `model_exchanges` table (the model-call
cache); it is refused like every older store, its runs replayed into a new store. v11 stored each
trace's guardrail results in the row itself (`guardrails_json`), where v12 stores each distinct list
once in `guardrail_lists` and the row names it (`guardrail_list`).
 *
 * Tables are STRICT so that a value of the wrong type (a fractional line number, a string token
 * count) is refused by SQLite rather than stored and silently read back as something else.
 */
export const SCHEMA_VERSION = 12

/**
 * `runs`: one row per shadow run; `config_json` holds every flag it was started with, so that
 * `--resume` continues it identically.
 *
 * `requests`: one row per trace (a request on one side, one repeat), its lists included. Steps,
 * tool calls, policy decisions and guardrail results are JSON arrays of positional tuples (the keys
 * are not repeated per element; src/store/rows.ts encodes and decodes them and makes the checks a
 * STRICT column would), so a trace is written in one statement step and read with one cursor step.
 * Every trace sets all four (`[]` when empty), hence NOT NULL (the guardrail results by reference, below):
 *   steps_json            [index, state, detail, input_tokens, output_tokens, latency_ms]
 *   tool_calls_json       [seq, step, name, risk, args, args_hash, idempotency_key, attempt,
 *                          outcome, executed (0/1), result, error, latency_ms, attack?, approval?, turn?]
 *                          (args and result embedded as JSON values, not strings; no result is null;
 *                          attack only on a call an injection asked for, null when only an approval
 *                          follows; approval `[decision, by, at, reason]` only on a call a person decided,
 *                          null when only a turn follows; turn only on a call of a later user turn)
 *   policy_decisions_json [seq, step, stage, tool_call_seq, tool, decision, reason, rule]
 *   guardrail_lists.json  [stage, step, check, passed (0/1), severity, detail, context?]
 *                          (context: the pre-model admission record, on one result at most)
 * A trace's guardrail results are the list `guardrail_lists` holds under the key its
 * `guardrail_list` names. A list is stored once per store, keyed by the sha256 of its JSON text (hex,
 * the first 32 digits), so a key means the same list in every store and a merge or copy of rows
 * needs no renumbering: most traces pass every check with the same details, and a 30k-request replay
 * of the shipped scenario holds ~2,400 distinct lists among 30,000 candidate traces, each ~920 bytes
 * (half a row's bytes when each row held its own copy). Invariant: every key a row names is in
 * `guardrail_lists` (written in the same transaction as the row; TracesRepo); a list no row names
 * any more (its runs deleted) is removed when runs are deleted. No foreign key: deleting a list
 * would then scan `requests` for each one.
 * `guardrail_failures_json` repeats the tuples of the trace's list whose `passed` is 0, in their
 * order (`[]` when every check passed): the diff, the run summary and the scorecard compare only
 * failures, so those reads select this column instead of looking the list up (TraceFilter
 * `guardrails: 'failed'`). The audit view reads the whole list.
 * `golden_json` is the request's golden expectations (RequestTrace.golden: `{expect, known_issue}`),
 * stored at replay on every trace of a request whose traffic record has an `expect` block and NULL
 * on the others: the golden suite, report, scorecard and rollout plan read them from here, never
 * from the traffic file, so they judge what was replayed even once the file is gone or edited.
 * `diverged_json` is the model-free replay's divergence marker (`Divergence`), NULL when none.
 * `requests_by_line` serves the contract's trace order (line, side recorded/baseline/candidate,
 * repeat) and line ranges of it, so a run or a range of it is read without a sort.
 *
 * `run_writers`: the process writing each run (src/store/run-writer.ts). At most one row a run,
 * taken in an IMMEDIATE transaction when the run is created or resumed, deleted together with
 * setting the run's final status when that writer ends; a row whose process is gone is stale and
 * the next claim replaces it. `token` is unique to one claim, so a writer only renews or releases
 * its own. `pid_start` tells a reused pid from the writer (Linux: boot id and start tick; NULL
 * where the OS does not say). `heartbeat_at` is renewed while the run is written; a claim from
 * another host is judged by it alone, since its pid cannot be checked from here.
 *
 * `model_exchanges`: the model-call cache (src/model/exchange-cache.ts). `key` is the sha256 of the
 * answering client's id and the cassette key of the request (model, messages, tools, format, think,
 * options: src/model/cassette.ts), so a byte-identical request to the same model is answered from
 * here instead of paying for the call again; `response_json` is the answer as the model gave it,
 * redacted like every text of a trace (secrets the request holds are put back when it is served).
 * The first answer to a key is kept.
 *
 * `bundles`: every bundle the store has seen, by content hash, with its templates (null when the
 * caller passed none) so that a rollback can write a remembered bundle back out in full.
 *
 * `bundle_history`: an append-only event log. A row is a promotion of a bundle to a rollout stage
 * for one tenant (or `all`), or, with stage `bad`, the bundle being marked bad; nothing is ever
 * updated or deleted, so the history of an incident reads back as it happened.
 *
 * `drills`: incident drills run against the store, with their reports.
 *
 * `approval_decisions`: an append-only log of people's decisions on the calls a run held for
 * approval (`understudy approvals decide`), one row per decision: the held call by its request id
 * (as stored) and its tool call seq in the candidate trace, with the tool and args hash it was
 * about (what `approvals apply` matches the re-run call by), who, when and why. A later decision on
 * the same call supersedes an earlier one (the highest id wins); nothing is updated or deleted.
 *
 * The `trace_*` views keep every step, guardrail result, tool call and policy decision queryable in
 * plain SQL, for audit: one row per list element with `request_rowid` (the requests row's id) and
 * `pos` (its index in the list), then the tuple's fields by name. `args_json` / `result_json` are
 * JSON text (`->` gives JSON text, where json_extract would unquote a string result), a null result
 * is SQL NULL, and REAL columns are cast so that `typeof()` says real for a whole-number latency.
 * The views are not indexed: a query by tool name or decision reason scans the requests rows.
 */
export const SCHEMA_SQL = `
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
  id                    INTEGER PRIMARY KEY,
  run_id                TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  request_id            TEXT NOT NULL,
  line                  INTEGER NOT NULL CHECK (line >= 1),
  side                  TEXT NOT NULL CHECK (side IN ('recorded', 'baseline', 'candidate')),
  -- The contract orders sides recorded, baseline, candidate: not alphabetical, hence a rank.
  side_rank             INTEGER GENERATED ALWAYS AS
                          (CASE side WHEN 'recorded' THEN 0 WHEN 'baseline' THEN 1 ELSE 2 END) VIRTUAL,
  repeat                INTEGER NOT NULL CHECK (repeat >= 0),
  tenant                TEXT NOT NULL,
  user                  TEXT NOT NULL,
  role                  TEXT NOT NULL,
  status                TEXT NOT NULL,
  final_answer          TEXT NOT NULL,
  input_tokens          INTEGER NOT NULL CHECK (input_tokens >= 0),
  output_tokens         INTEGER NOT NULL CHECK (output_tokens >= 0),
  model_calls           INTEGER NOT NULL CHECK (model_calls >= 0),
  cost_usd              REAL NOT NULL CHECK (cost_usd >= 0),
  latency_ms            REAL NOT NULL CHECK (latency_ms >= 0),
  budget_hits           TEXT NOT NULL,
  error                 TEXT,
  guardrail_list        TEXT NOT NULL,
  guardrail_failures_json TEXT NOT NULL,
  steps_json            TEXT NOT NULL,
  tool_calls_json       TEXT NOT NULL,
  policy_decisions_json TEXT NOT NULL,
  golden_json           TEXT,
  diverged_json         TEXT,
  UNIQUE (run_id, request_id, side, repeat)
) STRICT;

CREATE INDEX requests_by_line ON requests (run_id, line, side_rank, repeat);

CREATE TABLE guardrail_lists (
  key  TEXT PRIMARY KEY,
  json TEXT NOT NULL
) STRICT;

CREATE TABLE run_writers (
  run_id       TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  token        TEXT NOT NULL,
  pid          INTEGER NOT NULL CHECK (pid > 0),
  host         TEXT NOT NULL,
  pid_start    TEXT,
  claimed_at   TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
) STRICT;

CREATE TABLE model_exchanges (
  key           TEXT PRIMARY KEY,
  source        TEXT NOT NULL,
  response_json TEXT NOT NULL,
  created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE bundles (
  hash           TEXT PRIMARY KEY,
  ref            TEXT NOT NULL,
  manifest_json  TEXT NOT NULL,
  first_seen_at  TEXT NOT NULL,
  templates_json TEXT
) STRICT;

CREATE TABLE bundle_history (
  id          INTEGER PRIMARY KEY,
  bundle_hash TEXT NOT NULL,
  bundle_ref  TEXT NOT NULL,
  stage       TEXT NOT NULL CHECK (stage IN ('shadow', 'canary-1', 'ramp-10', 'ramp-50', 'full', 'bad')),
  tenant      TEXT NOT NULL,
  promoted_at TEXT NOT NULL,
  note        TEXT
) STRICT;

CREATE INDEX bundle_history_by_hash ON bundle_history (bundle_hash);

CREATE TABLE drills (
  id          INTEGER PRIMARY KEY,
  scenario    TEXT NOT NULL,
  started_at  TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  passed      INTEGER NOT NULL CHECK (passed IN (0, 1)),
  report_json TEXT NOT NULL
) STRICT;

CREATE TABLE approval_decisions (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  request_id  TEXT NOT NULL,
  seq         INTEGER NOT NULL CHECK (seq >= 0),
  tool        TEXT NOT NULL,
  args_hash   TEXT NOT NULL,
  decision    TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
  decided_by  TEXT NOT NULL,
  decided_at  TEXT NOT NULL,
  reason      TEXT
) STRICT;

CREATE INDEX approval_decisions_by_run ON approval_decisions (run_id, request_id, seq);

CREATE VIEW trace_steps AS
  SELECT r.id AS request_rowid,
         CAST(j.key AS INTEGER) AS pos,
         json_extract(j.value, '$[0]') AS step_index,
         json_extract(j.value, '$[1]') AS state,
         json_extract(j.value, '$[2]') AS detail,
         json_extract(j.value, '$[3]') AS input_tokens,
         json_extract(j.value, '$[4]') AS output_tokens,
         CAST(json_extract(j.value, '$[5]') AS REAL) AS latency_ms
  FROM requests r, json_each(r.steps_json) j;

CREATE VIEW trace_guardrails AS
  SELECT r.id AS request_rowid,
         CAST(j.key AS INTEGER) AS pos,
         json_extract(j.value, '$[0]') AS stage,
         json_extract(j.value, '$[1]') AS step,
         json_extract(j.value, '$[2]') AS "check",
         json_extract(j.value, '$[3]') AS passed,
         json_extract(j.value, '$[4]') AS severity,
         json_extract(j.value, '$[5]') AS detail
  FROM requests r JOIN guardrail_lists g ON g.key = r.guardrail_list, json_each(g.json) j;

CREATE VIEW trace_tool_calls AS
  SELECT r.id AS request_rowid,
         CAST(j.key AS INTEGER) AS pos,
         json_extract(j.value, '$[0]') AS seq,
         json_extract(j.value, '$[1]') AS step,
         json_extract(j.value, '$[2]') AS name,
         json_extract(j.value, '$[3]') AS risk,
         j.value -> '$[4]' AS args_json,
         json_extract(j.value, '$[5]') AS args_hash,
         json_extract(j.value, '$[6]') AS idempotency_key,
         json_extract(j.value, '$[7]') AS attempt,
         json_extract(j.value, '$[8]') AS outcome,
         json_extract(j.value, '$[9]') AS executed,
         NULLIF(j.value -> '$[10]', 'null') AS result_json,
         json_extract(j.value, '$[11]') AS error,
         CAST(json_extract(j.value, '$[12]') AS REAL) AS latency_ms,
         json_extract(j.value, '$[13]') AS attack,
         json_extract(j.value, '$[14][0]') AS approval,
         json_extract(j.value, '$[14][1]') AS approved_by
  FROM requests r, json_each(r.tool_calls_json) j;

CREATE VIEW trace_policy_decisions AS
  SELECT r.id AS request_rowid,
         CAST(j.key AS INTEGER) AS pos,
         json_extract(j.value, '$[0]') AS seq,
         json_extract(j.value, '$[1]') AS step,
         json_extract(j.value, '$[2]') AS stage,
         json_extract(j.value, '$[3]') AS tool_call_seq,
         json_extract(j.value, '$[4]') AS tool,
         json_extract(j.value, '$[5]') AS decision,
         json_extract(j.value, '$[6]') AS reason,
         json_extract(j.value, '$[7]') AS rule
  FROM requests r, json_each(r.policy_decisions_json) j;
`
