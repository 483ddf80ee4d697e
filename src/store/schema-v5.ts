/**
 * Schema version 5 of the trace store: a trace's tool calls and policy decisions live in two JSON
 * columns on its `requests` row, as steps (v4) and guardrail results (v3) do, so a trace stored
 * from v5 on is exactly one row, written in one statement step and read with one cursor step.
 * Reading the child rows through merged cursors was the largest cost of reading a run.
 *
 * Additive only: traces stored before v5 keep their `tool_calls` / `policy_decisions` rows and a
 * NULL column, and the reader falls back to the rows for them only. Traces stored from v5 on always
 * set both columns (`[]` when empty) and write no rows. The old tables and their indexes stay for
 * those older traces.
 *
 * `tool_calls_json` holds `[seq, step, name, risk, args, args_hash, idempotency_key, attempt,
 * outcome, executed (0/1), result, error, latency_ms]` tuples, `args` and `result` embedded as JSON
 * values (not strings); `policy_decisions_json` holds `[seq, step, stage, tool_call_seq, tool,
 * decision, reason, rule]` tuples. The writer makes the checks the STRICT columns used to make.
 *
 * Every step, tool call, policy decision and guardrail result stays queryable in plain SQL, for
 * audit, through the views below: each has the columns of the table it stands in for (request_rowid,
 * pos, then the table's own) and lists the old rows followed by the JSON columns' elements.
 * `args_json` / `result_json` are JSON text as in the tables (`->` gives JSON text, where
 * json_extract would unquote a string result), a null result is SQL NULL, and REAL columns are
 * cast so that `typeof()` agrees with the tables. The JSON half is not indexed: a query by name or
 * reason scans the run's requests rows.
 */
export const SCHEMA_V5 = `
ALTER TABLE requests ADD COLUMN tool_calls_json TEXT;
ALTER TABLE requests ADD COLUMN policy_decisions_json TEXT;

CREATE VIEW trace_steps AS
  SELECT request_rowid, pos, step_index, state, detail, input_tokens, output_tokens, latency_ms
  FROM steps
  UNION ALL
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
  SELECT request_rowid, pos, stage, step, "check", passed, severity, detail
  FROM guardrail_results
  UNION ALL
  SELECT r.id AS request_rowid,
         CAST(j.key AS INTEGER) AS pos,
         json_extract(j.value, '$[0]') AS stage,
         json_extract(j.value, '$[1]') AS step,
         json_extract(j.value, '$[2]') AS "check",
         json_extract(j.value, '$[3]') AS passed,
         json_extract(j.value, '$[4]') AS severity,
         json_extract(j.value, '$[5]') AS detail
  FROM requests r, json_each(r.guardrails_json) j;

CREATE VIEW trace_tool_calls AS
  SELECT request_rowid, pos, seq, step, name, risk, args_json, args_hash, idempotency_key, attempt,
         outcome, executed, result_json, error, latency_ms
  FROM tool_calls
  UNION ALL
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
         CAST(json_extract(j.value, '$[12]') AS REAL) AS latency_ms
  FROM requests r, json_each(r.tool_calls_json) j;

CREATE VIEW trace_policy_decisions AS
  SELECT request_rowid, pos, seq, step, stage, tool_call_seq, tool, decision, reason, rule
  FROM policy_decisions
  UNION ALL
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
