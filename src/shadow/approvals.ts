import os from 'node:os'
import {z} from 'zod'
import {UnderstudyError, UsageError} from '../errors.js'
import {heldActions, resolveRefs, type HeldAction} from '../runs/approvals.js'
import {findRun} from '../runs/open.js'
import type {NewApprovalDecision, RunInfo, TraceDatabase} from '../store/api.js'
import {ShadowOptions} from '../store/run-config.js'
import {loadConfigFile} from '../util/config-file.js'
import {startShadow, type ShadowHooks, type ShadowResult} from './run.js'

/**
 * People deciding the calls a run held for approval, and a new run that carries the decisions out.
 *
 * `decide` appends decisions to the store (who, when, why); `apply` starts a new run from the
 * decided run: every trace of it is copied as stored except the candidate traces of the requests
 * with a decided call, which are replayed with the decisions in force (approved → the call runs
 * against the mock tools and the model goes on; rejected → refused `APPROVAL_REJECTED`, the model
 * goes on). A replay rather than a resumption of a frozen state: the runtime keeps no mid-request
 * state in the store, and a deterministic model (scripted, recorded) and the mock tools reach the
 * held step exactly as before, so "continue from the held step" is this replay up to it. The copied
 * traces are the decided run's own (same bundles, same traffic: checked), so the new run's summary,
 * diff and scorecard cover every request.
 */

/** A decisions file: `decisions: [{ref, decision: approve|reject, reason?}]`, with an optional `by` for all. */
const DecisionsFile = z.strictObject({
  by: z.string().min(1).optional(),
  decisions: z.array(
    z.strictObject({
      ref: z.string().min(1),
      decision: z.enum(['approve', 'reject']),
      reason: z.string().optional(),
    }),
  ),
})

export type DecideInput = {
  approve?: string[]
  reject?: string[]
  approveAll?: boolean
  rejectAll?: boolean
  /** A decisions file (YAML or JSON). */
  file?: string
  /** Default: the OS user. */
  by?: string
  reason?: string
  /** ISO time of the decisions; now by default. */
  at?: string
}

/** One recorded decision: the held call (`reason` is why it was held) and `why` it was decided so. */
export type Decided = HeldAction & {decision: 'approved' | 'rejected'; decided_by: string; why: string | null; at: string}
export type DecideResult = {run: string; decided: Decided[]}

/** Records people's decisions on held calls of `run`. Nothing is recorded unless every ref is known. */
export function decideApprovals(store: TraceDatabase, run: RunInfo, input: DecideInput): DecideResult {
  const modes = [input.approve?.length, input.reject?.length, input.approveAll, input.rejectAll, input.file].filter(Boolean).length
  if (modes === 0) throw new UsageError('say what to decide: --approve <ref…>, --reject <ref…>, --approve-all, --reject-all or --file <decisions.yaml>')
  if (input.file !== undefined && modes > 1) throw new UsageError('--file decides by itself; leave out --approve, --reject, --approve-all and --reject-all')
  if (input.approveAll && input.rejectAll) throw new UsageError('--approve-all and --reject-all exclude each other')
  const held = heldActions(store, run)
  if (held.length === 0) throw new UnderstudyError(`run ${run.id} holds no call for approval; nothing to decide`)
  const by = input.by ?? defaultUser()
  const at = input.at ?? new Date().toISOString()
  const wanted: {action: HeldAction; decision: 'approved' | 'rejected'; by: string; reason: string | null}[] = []

  if (input.file !== undefined) {
    const parsed = loadConfigFile(input.file, DecisionsFile, {what: 'decisions'})
    const who = input.by ?? parsed.by ?? by
    const actions = resolveRefs(held, parsed.decisions.map((d) => d.ref), run.id, input.file)
    const seen = new Map<string, string>()
    parsed.decisions.forEach((d, i) => {
      const before = seen.get(d.ref)
      if (before !== undefined && before !== d.decision) throw new UnderstudyError(`${input.file}: decisions.${i}.ref: ${d.ref} is both approved and rejected`)
      seen.set(d.ref, d.decision)
    })
    parsed.decisions.forEach((d, i) => {
      if (parsed.decisions.findIndex((e) => e.ref === d.ref) !== i) return
      wanted.push({action: actions.find((a) => a.ref === d.ref)!, decision: d.decision === 'approve' ? 'approved' : 'rejected', by: who, reason: d.reason ?? input.reason ?? null})
    })
  } else {
    const reason = input.reason ?? null
    if (input.approveAll || input.rejectAll) {
      const decision = input.approveAll ? 'approved' : 'rejected'
      for (const action of held) if (action.decision === null) wanted.push({action, decision, by, reason})
      if (wanted.length === 0) throw new UnderstudyError(`every held call of run ${run.id} is decided already; name refs to change a decision`)
    }
    const approve = resolveRefs(held, input.approve ?? [], run.id)
    const reject = resolveRefs(held, input.reject ?? [], run.id)
    const both = approve.filter((a) => reject.includes(a))
    if (both.length > 0) throw new UsageError(`both --approve and --reject name ${both.map((a) => a.ref).join(', ')}`)
    for (const action of approve) wanted.push({action, decision: 'approved', by, reason})
    for (const action of reject) wanted.push({action, decision: 'rejected', by, reason})
  }

  const rows: NewApprovalDecision[] = wanted.map((w) => ({
    request_id: w.action.request_id,
    seq: w.action.seq,
    tool: w.action.tool,
    args_hash: w.action.args_hash,
    decision: w.decision,
    by: w.by,
    at,
    reason: w.reason,
  }))
  store.recordApprovals(run.id, rows)
  return {run: run.id, decided: wanted.map((w) => ({...w.action, decision: w.decision, decided_by: w.by, why: w.reason, at}))}
}

function defaultUser(): string {
  try {
    return os.userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

/**
 * A new run carrying out the decisions in force on `runId`'s held calls (see the module comment).
 * Held calls nobody decided stay held: their requests are copied as they were.
 */
export async function applyApprovals(store: TraceDatabase, runId: string, hooks: ShadowHooks = {}): Promise<ShadowResult> {
  const run = findRun(store, runId)
  if (run.status === 'running') throw new UnderstudyError(`run ${run.id} is still running; apply approvals once it has finished`)
  const parsed = ShadowOptions.safeParse(run.config)
  if (!parsed.success) throw new UnderstudyError(`run ${run.id} was not started by \`understudy shadow\` (its config cannot be read back)`)
  const opts = parsed.data
  const held = new Map(heldActions(store, run).map((h) => [h.ref, h]))
  const decisions = store.listApprovals(run.id).filter((d) => held.has(`${d.request_id}#${d.seq}`))
  if (decisions.length === 0) {
    throw new UnderstudyError(`no decisions on run ${run.id} (${held.size} held call(s)); decide first: understudy approvals decide ${run.id} --approve <ref…> | --reject <ref…> | --approve-all`)
  }
  const fresh = decisions
    .sort((a, b) => (a.request_id === b.request_id ? a.seq - b.seq : a.request_id < b.request_id ? -1 : 1))
    .map(({id: _id, ...d}) => d)
  const rerun = [...new Set(fresh.map((d) => d.request_id))]
  // A run that itself applied decisions keeps them: its requests replay from scratch, so the
  // earlier decisions must still be there when their calls come round; the new ones come first.
  const earlier = opts.approvals?.decisions ?? []
  const result = await startShadow(
    {
      ...opts,
      run_name: `${run.name ?? run.id} (approvals applied)`,
      approvals: {source_run: run.id, decisions: [...fresh, ...earlier]},
    },
    store,
    hooks,
    {from: run, rerun},
  )
  // A decision applies when the replay reaches its call again; a model that proposes something else
  // this time (a non-deterministic one) never asks, and that is said rather than passed over.
  const unmet = unappliedDecisions(store, result.run, fresh)
  if (unmet.length > 0) {
    const notice = `${unmet.length} decision(s) found no matching call in the replay (the model proposed otherwise this time): ${unmet.join(', ')}`
    result.notices.push(notice)
    hooks.onNotice?.(notice)
  }
  return result
}

/** Refs of `decisions` whose request's replayed candidate trace has no call carrying a decision with the same tool and args. */
function unappliedDecisions(store: TraceDatabase, run: RunInfo, decisions: readonly NewApprovalDecision[]): string[] {
  const out: string[] = []
  for (const d of decisions) {
    const traces = [...store.iterateTraces(run.id, {side: 'candidate', requestId: d.request_id, guardrails: 'failed'})]
    const met = traces.some((t) => t.tool_calls.some((c) => c.approval !== undefined && c.name === d.tool && c.args_hash === d.args_hash))
    if (!met) out.push(`${d.request_id}#${d.seq}`)
  }
  return out
}
