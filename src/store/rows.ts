import type {
  GuardrailResult,
  PolicyDecisionTrace,
  RequestTrace,
  StepTrace,
  ToolCallTrace,
} from '../runtime/trace.js'
import type {RunInfo} from './api.js'

/**
 * Mapping between `RequestTrace` objects and table rows. Column lists and (de)coders live side by
 * side so that a SELECT's column order and the decoder reading it positionally cannot drift.
 * Reads use raw (array) rows: building one object per row and then another per trace costs twice.
 */

type Row = unknown[]

// SQLite has no boolean; 0/1 integers, checked by the schema.
const bit = (b: boolean): number => (b ? 1 : 0)
const json = (v: unknown): string => JSON.stringify(v)
const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v))
const parseOrNull = (s: unknown): unknown => (s === null ? null : JSON.parse(s as string))

export const REQUEST_INSERT_COLUMNS = [
  'run_id', 'request_id', 'line', 'side', 'repeat', 'tenant', 'user', 'role', 'status', 'final_answer',
  'input_tokens', 'output_tokens', 'model_calls', 'cost_usd', 'latency_ms', 'budget_hits', 'error',
  'guardrails_json',
] as const

export function requestParams(runId: string, t: RequestTrace): unknown[] {
  return [
    runId, t.request_id, t.line, t.side, t.repeat, t.tenant, t.user, t.role, t.status, t.final_answer,
    t.input_tokens, t.output_tokens, t.model_calls, t.cost_usd, t.latency_ms, json(t.budget_hits), t.error,
    encodeGuardrails(t.guardrails),
  ]
}

/** Selected as `r.<col>` with the request's rowid first. */
export const REQUEST_SELECT_COLUMNS = [
  'id', 'request_id', 'line', 'side', 'repeat', 'tenant', 'user', 'role', 'status', 'final_answer',
  'input_tokens', 'output_tokens', 'model_calls', 'cost_usd', 'latency_ms', 'budget_hits', 'error',
  'guardrails_json',
] as const

/** Position of `guardrails_json` in a row selected with REQUEST_SELECT_COLUMNS. */
export const GUARDRAILS_JSON = REQUEST_SELECT_COLUMNS.indexOf('guardrails_json')

/**
 * A trace from its requests row. Guardrails come from `guardrails_json`; for a trace stored before
 * schema v3 that is NULL and the list is left empty for the legacy rows to fill.
 */
export function decodeRequest(r: Row): RequestTrace {
  return {
    request_id: r[1] as string,
    line: r[2] as number,
    side: r[3] as RequestTrace['side'],
    repeat: r[4] as number,
    tenant: r[5] as string,
    user: r[6] as string,
    role: r[7] as string,
    status: r[8] as RequestTrace['status'],
    final_answer: r[9] as string,
    steps: [],
    tool_calls: [],
    policy_decisions: [],
    guardrails: r[GUARDRAILS_JSON] === null ? [] : decodeGuardrails(r[GUARDRAILS_JSON] as string),
    budget_hits: JSON.parse(r[15] as string) as string[],
    input_tokens: r[10] as number,
    output_tokens: r[11] as number,
    model_calls: r[12] as number,
    cost_usd: r[13] as number,
    latency_ms: r[14] as number,
    error: r[16] as string | null,
  }
}

/**
 * One child table: its insert columns (after request_rowid and pos), how to encode an element
 * (its column values appended to a multi-row INSERT's parameters, so no array per row), the
 * columns to select (after request_rowid) and how to decode them back onto the trace.
 */
export type ChildTable<T> = ChildReader<T> & {encode(item: T, params: unknown[]): void}

/** The reading half of a child table. */
export type ChildReader<T> = {
  table: string
  columns: readonly string[]
  decode(r: Row): T
  items(t: RequestTrace): T[]
}

export const STEPS: ChildTable<StepTrace> = {
  table: 'steps',
  columns: ['step_index', 'state', 'detail', 'input_tokens', 'output_tokens', 'latency_ms'],
  encode: (s, p) => {
    p.push(s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms)
  },
  decode: (r) => ({
    index: r[1] as number,
    state: r[2] as StepTrace['state'],
    detail: r[3] as string,
    input_tokens: r[4] as number,
    output_tokens: r[5] as number,
    latency_ms: r[6] as number,
  }),
  items: (t) => t.steps,
}

export const TOOL_CALLS: ChildTable<ToolCallTrace> = {
  table: 'tool_calls',
  columns: [
    'seq', 'step', 'name', 'risk', 'args_json', 'args_hash', 'idempotency_key', 'attempt', 'outcome',
    'executed', 'result_json', 'error', 'latency_ms',
  ],
  encode: (c, p) => {
    p.push(
      c.seq, c.step, c.name, c.risk, json(c.args), c.args_hash, c.idempotency_key, c.attempt, c.outcome,
      bit(c.executed), jsonOrNull(c.result), c.error, c.latency_ms,
    )
  },
  decode: (r) => ({
    seq: r[1] as number,
    step: r[2] as number,
    name: r[3] as string,
    risk: r[4] as ToolCallTrace['risk'],
    args: JSON.parse(r[5] as string) as Record<string, unknown>,
    args_hash: r[6] as string,
    idempotency_key: r[7] as string | null,
    attempt: r[8] as number,
    outcome: r[9] as ToolCallTrace['outcome'],
    executed: r[10] === 1,
    result: parseOrNull(r[11]),
    error: r[12] as string | null,
    latency_ms: r[13] as number,
  }),
  items: (t) => t.tool_calls,
}

export const POLICY_DECISIONS: ChildTable<PolicyDecisionTrace> = {
  table: 'policy_decisions',
  columns: ['seq', 'step', 'stage', 'tool_call_seq', 'tool', 'decision', 'reason', 'rule'],
  encode: (d, p) => {
    p.push(d.seq, d.step, d.stage, d.tool_call_seq, d.tool, d.decision, d.reason, d.rule)
  },
  decode: (r) => ({
    seq: r[1] as number,
    step: r[2] as number,
    stage: r[3] as PolicyDecisionTrace['stage'],
    tool_call_seq: r[4] as number | null,
    tool: r[5] as string | null,
    decision: r[6] as PolicyDecisionTrace['decision'],
    reason: r[7] as string,
    rule: r[8] as string | null,
  }),
  items: (t) => t.policy_decisions,
}

/**
 * Guardrail results as stored from schema v3: one JSON array of
 * `[stage, step, check, passed (0/1), severity, detail]` tuples on the requests row. The checks
 * the table's STRICT columns used to make are made here, so a malformed result is still refused
 * (as a TypeError, which the store reports naming the trace) rather than stored.
 */
export function encodeGuardrails(guardrails: readonly GuardrailResult[]): string {
  const tuples: unknown[][] = new Array(guardrails.length)
  for (let i = 0; i < guardrails.length; i++) {
    const g = guardrails[i]!
    const bad =
      typeof g?.stage !== 'string' ? 'stage' :
      !Number.isInteger(g.step) || g.step < 0 ? 'step' :
      typeof g.check !== 'string' ? 'check' :
      typeof g.severity !== 'string' ? 'severity' :
      typeof g.detail !== 'string' ? 'detail' : undefined
    if (bad !== undefined) {
      throw new TypeError(`guardrails[${i}].${bad}: invalid value ${JSON.stringify((g as Record<string, unknown> | undefined)?.[bad]) ?? 'undefined'}`)
    }
    tuples[i] = [g.stage, g.step, g.check, bit(g.passed), g.severity, g.detail]
  }
  return JSON.stringify(tuples)
}

export function decodeGuardrails(text: string): GuardrailResult[] {
  const tuples = JSON.parse(text) as [GuardrailResult['stage'], number, string, number, GuardrailResult['severity'], string][]
  const out: GuardrailResult[] = new Array(tuples.length)
  for (let i = 0; i < tuples.length; i++) {
    const g = tuples[i]!
    out[i] = {stage: g[0], step: g[1], check: g[2], passed: g[3] === 1, severity: g[4], detail: g[5]}
  }
  return out
}

/**
 * Guardrail results stored as rows, by traces written before schema v3. Read only: new traces
 * use `guardrails_json` instead.
 */
export const LEGACY_GUARDRAILS: ChildReader<GuardrailResult> = {
  table: 'guardrail_results',
  columns: ['stage', 'step', '"check"', 'passed', 'severity', 'detail'],
  decode: (r) => ({
    stage: r[1] as GuardrailResult['stage'],
    step: r[2] as number,
    check: r[3] as string,
    passed: r[4] === 1,
    severity: r[5] as GuardrailResult['severity'],
    detail: r[6] as string,
  }),
  items: (t) => t.guardrails,
}

/** The child tables every trace is written to and read from. */
export const CHILD_TABLES: readonly ChildTable<unknown>[] = [STEPS, TOOL_CALLS, POLICY_DECISIONS]

export const RUN_SELECT = `
  SELECT id, name, status, started_at, finished_at, candidate_ref, candidate_hash, baseline_ref,
         baseline_hash, traffic_file, traffic_hash, model, repeat, faults, seed, requests_total,
         config_json,
         (SELECT count(DISTINCT request_id) FROM requests WHERE requests.run_id = runs.id) AS requests_done
  FROM runs`

export type RunRow = {
  id: string; name: string | null; status: RunInfo['status']; started_at: string; finished_at: string | null
  candidate_ref: string; candidate_hash: string; baseline_ref: string; baseline_hash: string | null
  traffic_file: string; traffic_hash: string; model: string; repeat: number; faults: string | null
  seed: number; requests_total: number | null; config_json: string; requests_done: number
}

export function decodeRun(r: RunRow): RunInfo {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    started_at: r.started_at,
    finished_at: r.finished_at,
    candidate_ref: r.candidate_ref,
    candidate_hash: r.candidate_hash,
    baseline_ref: r.baseline_ref,
    baseline_hash: r.baseline_hash,
    traffic_file: r.traffic_file,
    traffic_hash: r.traffic_hash,
    model: r.model,
    repeat: r.repeat,
    faults: r.faults,
    seed: r.seed,
    config: JSON.parse(r.config_json) as Record<string, unknown>,
    requests_done: r.requests_done,
    requests_total: r.requests_total,
  }
}
