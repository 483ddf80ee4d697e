/**
 * Schema version 3 of the trace store: a trace's guardrail results live in one JSON column on its
 * `requests` row instead of one `guardrail_results` row each. The runtime records every check,
 * passing ones included (~23 per candidate trace), so those rows were two thirds of a trace's rows
 * and most of the store's per-trace cost, written and read; nothing queries them by column (for
 * SQL audit, v5's `trace_guardrails` view lists the column's elements with the old rows).
 *
 * Additive only: traces stored before v3 keep their `guardrail_results` rows and a NULL
 * `guardrails_json`, and the reader falls back to the rows for them. Traces stored from v3 on
 * always set the column (`[]` when there are no results) and write no rows.
 *
 * The column holds an array of `[stage, step, check, passed (0/1), severity, detail]` tuples:
 * positional, so the keys are not repeated 23 times a trace, and decoded into objects with the
 * contract's key order, exactly as the rows were.
 */
export const SCHEMA_V3 = `
ALTER TABLE requests ADD COLUMN guardrails_json TEXT;
`
