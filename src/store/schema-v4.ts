/**
 * Schema version 4 of the trace store: a trace's steps live in one JSON column on its `requests`
 * row instead of one `steps` row each, as guardrail results have since v3. A 100k-request run held
 * 1.32 M step rows, the most of any child table, and reading a trace back cost one cursor step
 * per row; nothing queries steps by column. Tool calls and policy decisions kept their tables
 * here, for SQL audit; v5 moved them into columns too and added `trace_*` views (`trace_steps`
 * among them) that keep every list queryable in SQL.
 *
 * Additive only: traces stored before v4 keep their `steps` rows and a NULL `steps_json`, and the
 * reader falls back to the rows for them only, so a run stored since v4 never touches that table.
 * Traces stored from v4 on always set the column (`[]` when there are no steps) and write no rows.
 *
 * The column holds an array of `[index, state, detail, input_tokens, output_tokens, latency_ms]`
 * tuples, decoded into objects with the contract's key order, exactly as the rows were. The
 * writer makes the checks the STRICT columns used to make, so a malformed step is still refused.
 */
export const SCHEMA_V4 = `
ALTER TABLE requests ADD COLUMN steps_json TEXT;
`
