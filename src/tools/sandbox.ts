import type {RiskLevel} from '../bundle/schema.js'
import type {ToolErrorCode, TrafficRecord} from '../traffic/schema.js'

/**
 * The boundary between the shadow runtime and the tools it calls. In shadow mode nothing real is
 * ever executed: the implementation (sandbox/mock-tools.ts) answers from what production recorded,
 * then from fixtures. The runtime only sees this interface, so tests can count executions.
 */

export type ToolError = {code: ToolErrorCode; message: string; retry_after_ms?: number}

/** What one (mock) tool call came back with. */
export type ToolAnswer = {
  /** `ok`: answered with a result; `error`: the tool answered with an error; `timeout` / `rate_limited`:
   * no answer; `unrecorded_call`: nothing (recording, fixture or default) can answer this call. */
  outcome: 'ok' | 'error' | 'timeout' | 'rate_limited' | 'unrecorded_call'
  /** The tool's result for `ok`, else null. */
  result: unknown
  error: ToolError | null
  /** Simulated latency of this call: recorded, fixture, or the sandbox default. */
  latency_ms: number
  /** Whether the (mock) tool did the work: true for `ok` and `error`. */
  executed: boolean
  /** Where the answer came from. */
  source: 'recorded' | 'fixture' | 'default' | 'none'
}

/** One execution the sandbox performed, for the ledger tests and for audits. */
export type ToolExecution = {name: string; args: Record<string, unknown>; attempt: number; source: ToolAnswer['source']}

/** The tools as seen by one request. Consumes that request's recorded calls as it answers. */
export interface RequestTools {
  /**
   * `attempt` is 1 for a first try, 2+ for the runtime's retries of the same call. `canonical`, when
   * given, is canonicalJson(args), which the caller has already computed (a sandbox that needs it
   * need not compute it again); a sandbox that matches on arguments computes it when it is absent.
   */
  call(name: string, args: Record<string, unknown>, attempt: number, canonical?: string): Promise<ToolAnswer>
  /** Every call this request's tools executed (answered ok or with an error), in order. */
  readonly executions: readonly ToolExecution[]
}

export interface ToolSandbox {
  forRequest(record: TrafficRecord): RequestTools
}

/** A fault injected into one attempt of one tool call. */
export type Fault =
  /** Nothing is executed; the caller waits `latency_ms` and gets no answer. */
  | {kind: 'timeout'; latency_ms: number}
  /** Nothing is executed; the tool asks the caller to wait `retry_after_ms` before trying again. */
  | {kind: 'rate_limit'; latency_ms: number; retry_after_ms: number}
  /** The write IS executed, but its response is lost on the way back. Only ever for write tools. */
  | {kind: 'partial_write'; latency_ms: number}

export type FaultPoint = {
  requestId: string
  /** 0-based index of the proposed call within the request (retries share it). */
  call: number
  attempt: number
  tool: string
  risk: RiskLevel | 'unknown'
}

export interface FaultInjector {
  /** Pure: the same point always gets the same answer, whatever ran before or alongside. */
  decide(point: FaultPoint): Fault | null
}
