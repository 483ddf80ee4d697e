import {z} from 'zod'
import {UnderstudyError} from '../errors.js'
import type {ApprovalDecision, RunInfo, TraceStore} from '../store/api.js'
import type {RequestTrace} from '../trace/schema.js'

/**
 * The calls a stored run held for approval, and the refs people decide them by. A held call is a
 * candidate tool call (first pass, repeat 0) whose outcome is `needs_approval`; its ref is
 * `<request-id>#<seq>`, the request id as stored and the call's seq in that trace.
 */

export const HeldAction = z.object({
  ref: z.string(),
  request_id: z.string(),
  line: z.number().int().positive(),
  tenant: z.string(),
  seq: z.number().int().nonnegative(),
  tool: z.string(),
  /** As stored: sensitive values redacted. */
  args: z.record(z.string(), z.unknown()),
  args_hash: z.string(),
  /** The rule that held it and its reason code, from the call's `require_approval` decision. */
  rule: z.string().nullable(),
  reason: z.string(),
  /** The decision in force on it, if anyone decided. */
  decision: z.enum(['approved', 'rejected']).nullable(),
  decided_by: z.string().nullable(),
})
export type HeldAction = z.infer<typeof HeldAction>

export function heldRef(requestId: string, seq: number): string {
  return `${requestId}#${seq}`
}

/** Every held call of `run`, in trace order, with the decision in force on each. */
export function heldActions(store: Pick<TraceStore, 'iterateTraces'> & {listApprovals(runId: string): ApprovalDecision[]}, run: RunInfo): HeldAction[] {
  const decided = decisionsByRef(store.listApprovals(run.id))
  const out: HeldAction[] = []
  for (const t of store.iterateTraces(run.id, {side: 'candidate', repeat: 0, guardrails: 'failed'})) out.push(...heldInTrace(t, decided))
  return out
}

/** The decision in force on each ref: the latest recorded. */
export function decisionsByRef(decisions: readonly ApprovalDecision[]): Map<string, ApprovalDecision> {
  return new Map(decisions.map((d) => [heldRef(d.request_id, d.seq), d]))
}

/** The held calls of one candidate trace (repeat 0), with the decision in force on each (`decided` by ref). */
export function heldInTrace(t: RequestTrace, decided: ReadonlyMap<string, ApprovalDecision>): HeldAction[] {
  const out: HeldAction[] = []
  for (const c of t.tool_calls) {
    if (c.outcome !== 'needs_approval' || c.attack !== undefined) continue
    const held = t.policy_decisions.find((d) => d.tool_call_seq === c.seq && d.decision === 'require_approval')
    const ref = heldRef(t.request_id, c.seq)
    const d = decided.get(ref)
    out.push({
      ref,
      request_id: t.request_id,
      line: t.line,
      tenant: t.tenant,
      seq: c.seq,
      tool: c.name,
      args: c.args,
      args_hash: c.args_hash,
      rule: held?.rule ?? null,
      reason: held?.reason ?? (c.error ?? ''),
      decision: d?.decision ?? null,
      decided_by: d?.by ?? null,
    })
  }
  return out
}

/**
 * The held actions `refs` name, in the order given (each once). Refs that name no held call of the
 * run are one error naming every one of them.
 */
export function resolveRefs(held: readonly HeldAction[], refs: readonly string[], runId: string, file?: string): HeldAction[] {
  const byRef = new Map(held.map((h) => [h.ref, h]))
  const unknown = refs.filter((r) => !byRef.has(r))
  if (unknown.length > 0) {
    const list = unknown.map((r) => JSON.stringify(r)).join(', ')
    throw new UnderstudyError(
      `${file === undefined ? '' : `${file}: `}run ${runId} holds no call ${list} (refs are <request-id>#<seq>, as \`understudy approvals list ${runId}\` prints them; ${held.length} held)`,
    )
  }
  return [...new Set(refs)].map((r) => byRef.get(r)!)
}
