import type {
  ApprovalRecord,
  ContextAdmission,
  GuardrailResult,
  PolicyDecisionTrace,
  RequestTrace,
  StepTrace,
  ToolCallTrace,
  TraceGolden,
} from '../trace/schema.js'
import type {RunInfo} from './api.js'

/**
 * Mapping between `RequestTrace` objects and table rows. Column lists and (de)coders live side by
 * side so that a SELECT's column order and the decoder reading it positionally cannot drift.
 * Reads use raw (array) rows: building one object per row and then another per trace costs twice.
 *
 * A trace is one `requests` row: its steps, tool calls, policy decisions and guardrail results are
 * JSON columns of positional tuples (src/store/schema.ts lists their fields). The encoders make the
 * checks a STRICT column and its CHECKs would make, throwing a TypeError naming the element and
 * field, which the store reports naming the trace. The decoders build objects in the contract's key
 * order, so a trace reads back deep-equal and JSON-identical to what was written.
 */

type Row = unknown[]

// SQLite has no boolean: 0/1 integers, so the audit views show them as SQL would.
const bit = (b: boolean): number => (b ? 1 : 0)
const json = (v: unknown): string => JSON.stringify(v)
// Most traces hit no budget: their list is the empty one, written without the serialiser.
const list = (v: readonly unknown[]): string => (Array.isArray(v) && v.length === 0 ? '[]' : JSON.stringify(v))

export const REQUEST_INSERT_COLUMNS = [
  'run_id', 'request_id', 'line', 'side', 'repeat', 'tenant', 'user', 'role', 'status', 'final_answer',
  'input_tokens', 'output_tokens', 'model_calls', 'cost_usd', 'latency_ms', 'budget_hits', 'error',
  'guardrail_list', 'guardrail_failures_json', 'steps_json', 'tool_calls_json', 'policy_decisions_json', 'golden_json', 'diverged_json',
] as const

const SIDES: ReadonlySet<unknown> = new Set(['recorded', 'baseline', 'candidate'])
// Positions of the columns the `requests` table CHECKs (src/store/schema.ts), in REQUEST_INSERT_COLUMNS.
const at = (c: (typeof REQUEST_INSERT_COLUMNS)[number]): number => REQUEST_INSERT_COLUMNS.indexOf(c)
const LINE = at('line')
const SIDE = at('side')
const REPEAT = at('repeat')
const INPUT_TOKENS = at('input_tokens')
const OUTPUT_TOKENS = at('output_tokens')
const MODEL_CALLS = at('model_calls')
const COST = at('cost_usd')
const LATENCY = at('latency_ms')

/**
 * The column of a requestParams row that breaks one of the `requests` table's CHECK constraints
 * (`line >= 1`, the side among the three, the counts and cost and latency `>= 0`), or undefined:
 * for a connection on which SQLite evaluates none (OpenStoreOptions.checks). As the CHECKs judge a
 * number or a BigInt: Infinity passes, NaN (bound as NULL) fails. Any other value fails here, stricter
 * than SQLite only for a number written as text, which the encoders never give.
 */
export function badRequestParam(row: readonly unknown[]): string | undefined {
  const atLeast = (i: number, min: number): boolean => {
    const v = row[i]
    return (typeof v === 'number' || typeof v === 'bigint') && v >= min
  }
  const bad = !atLeast(LINE, 1) ? LINE :
    !SIDES.has(row[SIDE]) ? SIDE :
    !atLeast(REPEAT, 0) ? REPEAT :
    !atLeast(INPUT_TOKENS, 0) ? INPUT_TOKENS :
    !atLeast(OUTPUT_TOKENS, 0) ? OUTPUT_TOKENS :
    !atLeast(MODEL_CALLS, 0) ? MODEL_CALLS :
    !atLeast(COST, 0) ? COST :
    !atLeast(LATENCY, 0) ? LATENCY : -1
  return bad < 0 ? undefined : `${REQUEST_INSERT_COLUMNS[bad]}: invalid value ${show(row[bad])}`
}

/** Where requestParams puts `golden_json`. */
export const GOLDEN_PARAM = REQUEST_INSERT_COLUMNS.indexOf('golden_json')

/**
 * Where requestParams puts the guardrail results: their JSON text, which the store replaces with the
 * key of that list in `guardrail_lists` as it inserts the row (TracesRepo).
 */
export const GUARDRAILS_PARAM = REQUEST_INSERT_COLUMNS.indexOf('guardrail_list')

/**
 * The trace's values for REQUEST_INSERT_COLUMNS. `goldenJson`, when given, is encodeGolden(t.golden)
 * already computed (the traces of one request share their expectations: see traceRows).
 */
export function requestParams(runId: string, t: RequestTrace, goldenJson?: string | null): unknown[] {
  const guardrails = encodeGuardrails(t.guardrails)
  return [
    runId, t.request_id, t.line, t.side, t.repeat, t.tenant, t.user, t.role, t.status, t.final_answer,
    t.input_tokens, t.output_tokens, t.model_calls, t.cost_usd, t.latency_ms, list(t.budget_hits), t.error,
    guardrails.all, guardrails.failed, encodeSteps(t.steps), encodeToolCalls(t.tool_calls),
    encodePolicyDecisions(t.policy_decisions), goldenJson === undefined ? encodeGolden(t.golden) : goldenJson,
    t.diverged === undefined ? null : json(t.diverged),
  ]
}

/** The whole list of a trace's guardrail results, from `guardrail_lists` by the row's key (requests aliased `r`). */
const GUARDRAIL_LIST_SQL = '(SELECT g.json FROM guardrail_lists g WHERE g.key = r.guardrail_list)'

/**
 * What a read selects, in decodeRequest's order, from `requests` aliased `r`, the request's rowid
 * first. Reading only the failing guardrail results, `r.guardrail_failures_json` takes the place of
 * the whole list, and no list is looked up (see requestSelectColumns).
 */
const REQUEST_SELECT_COLUMNS = [
  'id', 'request_id', 'line', 'side', 'repeat', 'tenant', 'user', 'role', 'status', 'final_answer',
  'input_tokens', 'output_tokens', 'model_calls', 'cost_usd', 'latency_ms', 'budget_hits', 'error',
  GUARDRAIL_LIST_SQL, 'steps_json', 'tool_calls_json', 'policy_decisions_json', 'golden_json', 'diverged_json',
].map((c) => (c.startsWith('(') ? c : `r.${c}`))

/** REQUEST_SELECT_COLUMNS, with the failing guardrail results only in place of them all when `guardrails` is 'failed'. */
export function requestSelectColumns(guardrails: 'all' | 'failed' = 'all'): readonly string[] {
  return guardrails === 'all' ? REQUEST_SELECT_COLUMNS : REQUEST_SELECT_COLUMNS.map((c) => (c === GUARDRAIL_LIST_SQL ? 'r.guardrail_failures_json' : c))
}

/** A trace from its requests row, selected with requestSelectColumns (either way). */
export function decodeRequest(r: Row): RequestTrace {
  const t: RequestTrace = {
    request_id: r[1] as string,
    line: r[2] as number,
    side: r[3] as RequestTrace['side'],
    repeat: r[4] as number,
    tenant: r[5] as string,
    user: r[6] as string,
    role: r[7] as string,
    status: r[8] as RequestTrace['status'],
    final_answer: r[9] as string,
    steps: decodeSteps(r[18] as string),
    tool_calls: decodeToolCalls(r[19] as string),
    policy_decisions: decodePolicyDecisions(r[20] as string),
    guardrails: decodeGuardrails(r[17] as string),
    budget_hits: JSON.parse(r[15] as string) as string[],
    input_tokens: r[10] as number,
    output_tokens: r[11] as number,
    model_calls: r[12] as number,
    cost_usd: r[13] as number,
    latency_ms: r[14] as number,
    error: r[16] as string | null,
  }
  // Only when stored: a trace without a divergence or expectations reads back without the key, as it
  // was written, and in the contract's key order (diverged, then golden).
  if (r[22] !== null && r[22] !== undefined) t.diverged = JSON.parse(r[22] as string) as RequestTrace['diverged']
  if (r[21] !== null) t.golden = JSON.parse(r[21] as string) as TraceGolden
  return t
}

/**
 * Golden expectations: `{expect, known_issue}` as JSON, NULL when the trace has none (the record's
 * schema validated the block when its line was read; forbidden call args are any JSON value).
 */
export function encodeGolden(golden: TraceGolden | undefined): string | null {
  if (golden === undefined) return null
  try {
    return JSON.stringify(golden)
  } catch (e) {
    throw new TypeError(`golden: invalid value: not JSON-serialisable (${String((e as Error)?.message ?? e).split('\n')[0]})`)
  }
}

// The checks a STRICT column and its CHECK would make.
const isCount = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0
const isText = (v: unknown): boolean => typeof v === 'string'
const isTextOrNull = (v: unknown): boolean => v === null || typeof v === 'string'
// JSON has no Infinity or NaN: either would read back as null.
const isLatency = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v !== Infinity
// A record, as the contract has it: not an array, and nothing (a Date) that serialises as another type.
const isArgs = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as {toJSON?: unknown}).toJSON !== 'function'

/** A value for an error message: never throws (a BigInt, a cycle), and shows undefined as such. */
function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'undefined'
  } catch {
    return String(v)
  }
}

function invalid(list: string, i: number, field: string, item: unknown): TypeError {
  return new TypeError(`${list}[${i}].${field}: invalid value ${show((item as Record<string, unknown> | undefined)?.[field])}`)
}

/**
 * Parsed columns by text, for lists whose tuples hold only strings and numbers: a run's traces
 * repeat a few thousand distinct guardrail lists (mostly every check passing, with the same
 * details) and decision lists across 100k requests, and parsing the JSON was most of decoding
 * them. Only the parsed tuples are shared, never handed out: every trace gets objects of its own.
 */
class ParsedTuples<T> {
  private readonly byText = new Map<string, T[]>()
  private static readonly MAX_ENTRIES = 4096
  private static readonly MAX_TEXT = 8192

  parse(text: string): T[] {
    if (text.length > ParsedTuples.MAX_TEXT) return JSON.parse(text) as T[]
    let tuples = this.byText.get(text)
    if (tuples === undefined) {
      tuples = JSON.parse(text) as T[]
      if (this.byText.size >= ParsedTuples.MAX_ENTRIES) this.byText.clear()
      this.byText.set(text, tuples)
    }
    return tuples
  }
}

/**
 * Guardrail results: one JSON array of `[stage, step, check, passed (0/1), severity, detail]`
 * tuples, with the admission record as a seventh element on the one result that carries it
 * (encodeAdmission); and the same tuples of the results that did not pass, in their order, for
 * the `guardrail_failures_json` column.
 */
export function encodeGuardrails(guardrails: readonly GuardrailResult[]): {all: string; failed: string} {
  // JSON.stringify of the list of tuples, written one tuple's text at a time: the same characters.
  let all = '['
  let failed = ''
  for (let i = 0; i < guardrails.length; i++) {
    const g = guardrails[i]!
    let text = tupleTexts.get(g)
    if (text === undefined) {
      text = encodeGuardrail(g, i)
      // A frozen result without an admission record cannot change: its text is kept for the next row.
      if (g.context === undefined && Object.isFrozen(g)) tupleTexts.set(g, text)
    }
    if (i > 0) all += ','
    all += text
    if (!g.passed) failed += failed === '' ? text : `,${text}`
  }
  return {all: `${all}]`, failed: `[${failed}]`}
}

/**
 * Guardrail results repeat from row to row as the same frozen objects (the runtime shares a passing
 * check's result between requests): each one's tuple text, by identity. Weak, so it holds nothing
 * the runtime has let go.
 */
const tupleTexts = new WeakMap<GuardrailResult, string>()

/** One result's tuple as JSON text; a field of the wrong type throws naming its index. */
function encodeGuardrail(g: GuardrailResult, i: number): string {
  const bad =
    !isText(g?.stage) ? 'stage' :
    !isCount(g.step) ? 'step' :
    !isText(g.check) ? 'check' :
    !isText(g.severity) ? 'severity' :
    !isText(g.detail) ? 'detail' : undefined
  if (bad !== undefined) throw invalid('guardrails', i, bad, g)
  return JSON.stringify(
    g.context === undefined
      ? [g.stage, g.step, g.check, bit(g.passed), g.severity, g.detail]
      : [g.stage, g.step, g.check, bit(g.passed), g.severity, g.detail, encodeAdmission(g.context)],
  )
}

type GuardrailTuple = [GuardrailResult['stage'], number, string, number, GuardrailResult['severity'], string, AdmissionTuple?]
const parsedGuardrails = new ParsedTuples<GuardrailTuple>()

export function decodeGuardrails(text: string): GuardrailResult[] {
  // NULL: the key the row names has no list in `guardrail_lists` (a store edited outside understudy).
  if (typeof text !== 'string') throw new TypeError('guardrail results: the list the row names is not in the store')
  const tuples = parsedGuardrails.parse(text)
  const out: GuardrailResult[] = new Array(tuples.length)
  for (let i = 0; i < tuples.length; i++) {
    const g = tuples[i]!
    out[i] =
      g[6] === undefined
        ? {stage: g[0], step: g[1], check: g[2], passed: g[3] === 1, severity: g[4], detail: g[5]}
        : {stage: g[0], step: g[1], check: g[2], passed: g[3] === 1, severity: g[4], detail: g[5], context: decodeAdmission(g[6])}
  }
  return out
}

/**
 * A pre-model result's admission record: `[documents, memory]`, documents as
 * `[index, id, admitted (0/1), dropped_by]` and memory entries as
 * `[index, key, admitted (0/1), dropped_by, superseded_by]`.
 */
type AdmissionTuple = [[number, string, number, string[]][], [number, string, number, string[], number | null][]]

function encodeAdmission(c: ContextAdmission): AdmissionTuple {
  return [
    c.documents.map((d) => [d.index, d.id, bit(d.admitted), d.dropped_by]),
    c.memory.map((m) => [m.index, m.key, bit(m.admitted), m.dropped_by, m.superseded_by]),
  ]
}

/** Fresh objects and lists every time: the parsed tuples are shared between traces. */
function decodeAdmission(t: AdmissionTuple): ContextAdmission {
  return {
    documents: t[0].map((d) => ({index: d[0], id: d[1], admitted: d[2] === 1, dropped_by: d[3].slice()})),
    memory: t[1].map((m) => ({index: m[0], key: m[1], admitted: m[2] === 1, dropped_by: m[3].slice(), superseded_by: m[4]})),
  }
}

/**
 * Steps: one JSON array of `[index, state, detail, input_tokens, output_tokens, latency_ms]` tuples,
 * with a seventh element, the thinking, only on steps that have one (so older rows read the same).
 */
export function encodeSteps(steps: readonly StepTrace[]): string {
  const tuples: unknown[][] = new Array(steps.length)
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!
    const bad =
      !isCount(s?.index) ? 'index' :
      !isText(s.state) ? 'state' :
      !isText(s.detail) ? 'detail' :
      !isCount(s.input_tokens) ? 'input_tokens' :
      !isCount(s.output_tokens) ? 'output_tokens' :
      !isLatency(s.latency_ms) ? 'latency_ms' :
      s.thinking !== undefined && !isText(s.thinking) ? 'thinking' : undefined
    if (bad !== undefined) throw invalid('steps', i, bad, s)
    tuples[i] = [s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms]
    if (s.thinking !== undefined) tuples[i]!.push(s.thinking)
  }
  return JSON.stringify(tuples)
}

export function decodeSteps(text: string): StepTrace[] {
  const tuples = JSON.parse(text) as [number, StepTrace['state'], string, number, number, number, string?][]
  const out: StepTrace[] = new Array(tuples.length)
  for (let i = 0; i < tuples.length; i++) {
    const s = tuples[i]!
    out[i] = {index: s[0], state: s[1], detail: s[2], input_tokens: s[3], output_tokens: s[4], latency_ms: s[5]}
    if (typeof s[6] === 'string') out[i]!.thinking = s[6]
  }
  return out
}

/**
 * Tool calls: one JSON array of `[seq, step, name, risk, args, args_hash, idempotency_key, attempt,
 * outcome, executed (0/1), result, error, latency_ms, attack?, approval?, turn?]` tuples, `args` and
 * `result` embedded as JSON values; `approval` is `[decision, by, at, reason]`; `turn` the user turn (multi-turn requests). A result that is undefined is stored as null (JSON has no undefined).
 */
export function encodeToolCalls(calls: readonly ToolCallTrace[]): string {
  const tuples: unknown[][] = new Array(calls.length)
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!
    const bad =
      !isCount(c?.seq) ? 'seq' :
      !isCount(c.step) ? 'step' :
      !isText(c.name) ? 'name' :
      !isText(c.risk) ? 'risk' :
      !isArgs(c.args) ? 'args' :
      !isText(c.args_hash) ? 'args_hash' :
      !isTextOrNull(c.idempotency_key) ? 'idempotency_key' :
      !Number.isInteger(c.attempt) || c.attempt < 1 ? 'attempt' :
      !isText(c.outcome) ? 'outcome' :
      typeof c.executed !== 'boolean' ? 'executed' :
      !isTextOrNull(c.error) ? 'error' :
      !isLatency(c.latency_ms) ? 'latency_ms' :
      c.attack !== undefined && !isText(c.attack) ? 'attack' :
      c.approval !== undefined && !isApproval(c.approval) ? 'approval' :
      c.turn !== undefined && (!isCount(c.turn) || c.turn < 1) ? 'turn' : undefined
    if (bad !== undefined) throw invalid('tool_calls', i, bad, c)
    tuples[i] = [
      c.seq, c.step, c.name, c.risk, c.args, c.args_hash, c.idempotency_key, c.attempt, c.outcome,
      bit(c.executed), c.result ?? null, c.error, c.latency_ms,
    ]
    // Position 13 is the attack, 14 the approval, 15 the user turn: each null when absent but a
    // later one follows, and left off at the end, so a single-turn call's tuple is as it was.
    const more = c.turn !== undefined
    if (c.attack !== undefined || c.approval !== undefined || more) tuples[i]!.push(c.attack ?? null)
    if (c.approval !== undefined || more) tuples[i]!.push(c.approval === undefined ? null : [c.approval.decision, c.approval.by, c.approval.at, c.approval.reason])
    if (more) tuples[i]!.push(c.turn)
  }
  try {
    return JSON.stringify(tuples)
  } catch (e) {
    throw unserialisable(calls, e)
  }
}

/**
 * Which call's args or result could not be serialised (a cycle, a BigInt), found only once the
 * whole list failed so that the usual case serialises once. The engine's message can span lines.
 */
function unserialisable(calls: readonly ToolCallTrace[], e: unknown): TypeError {
  const why = `not JSON-serialisable (${String((e as Error)?.message ?? e).split('\n')[0]})`
  for (let i = 0; i < calls.length; i++) {
    for (const field of ['args', 'result'] as const) {
      try {
        JSON.stringify(calls[i]![field])
      } catch {
        return new TypeError(`tool_calls[${i}].${field}: invalid value: ${why}`)
      }
    }
  }
  return new TypeError(`tool_calls: invalid value: ${why}`)
}

type ToolCallTuple = [
  number, number, string, ToolCallTrace['risk'], Record<string, unknown>, string, string | null, number,
  ToolCallTrace['outcome'], number, unknown, string | null, number, (string | null)?, (ApprovalTuple | null)?, number?,
]
type ApprovalTuple = [ApprovalRecord['decision'], string, string, string | null]

function isApproval(a: ApprovalRecord): boolean {
  return (a.decision === 'approved' || a.decision === 'rejected') && isText(a.by) && isText(a.at) && isTextOrNull(a.reason)
}

/** Not cached like guardrails: the tuples hold args and results, which every trace must own. */
export function decodeToolCalls(text: string): ToolCallTrace[] {
  const tuples = JSON.parse(text) as ToolCallTuple[]
  const out: ToolCallTrace[] = new Array(tuples.length)
  for (let i = 0; i < tuples.length; i++) {
    const c = tuples[i]!
    out[i] = {
      seq: c[0], step: c[1], name: c[2], risk: c[3], args: c[4], args_hash: c[5], idempotency_key: c[6],
      attempt: c[7], outcome: c[8], executed: c[9] === 1, result: c[10], error: c[11], latency_ms: c[12],
    }
    if (c.length > 13 && c[13] !== null && c[13] !== undefined) out[i]!.attack = c[13]
    const a = c[14]
    if (a !== undefined && a !== null) out[i]!.approval = {decision: a[0], by: a[1], at: a[2], reason: a[3]}
    if (typeof c[15] === 'number') out[i]!.turn = c[15]
  }
  return out
}

/** Policy decisions: one JSON array of `[seq, step, stage, tool_call_seq, tool, decision, reason, rule]` tuples. */
export function encodePolicyDecisions(decisions: readonly PolicyDecisionTrace[]): string {
  const tuples: unknown[][] = new Array(decisions.length)
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!
    const bad =
      !isCount(d?.seq) ? 'seq' :
      !isCount(d.step) ? 'step' :
      !isText(d.stage) ? 'stage' :
      d.tool_call_seq !== null && !isCount(d.tool_call_seq) ? 'tool_call_seq' :
      !isTextOrNull(d.tool) ? 'tool' :
      !isText(d.decision) ? 'decision' :
      !isText(d.reason) ? 'reason' :
      !isTextOrNull(d.rule) ? 'rule' : undefined
    if (bad !== undefined) throw invalid('policy_decisions', i, bad, d)
    tuples[i] = [d.seq, d.step, d.stage, d.tool_call_seq, d.tool, d.decision, d.reason, d.rule]
  }
  return JSON.stringify(tuples)
}

type DecisionTuple = [
  number, number, PolicyDecisionTrace['stage'], number | null, string | null, PolicyDecisionTrace['decision'],
  string, string | null,
]
const parsedDecisions = new ParsedTuples<DecisionTuple>()

export function decodePolicyDecisions(text: string): PolicyDecisionTrace[] {
  const tuples = parsedDecisions.parse(text)
  const out: PolicyDecisionTrace[] = new Array(tuples.length)
  for (let i = 0; i < tuples.length; i++) {
    const d = tuples[i]!
    out[i] = {seq: d[0], step: d[1], stage: d[2], tool_call_seq: d[3], tool: d[4], decision: d[5], reason: d[6], rule: d[7]}
  }
  return out
}

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
