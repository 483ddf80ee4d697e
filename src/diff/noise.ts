import type {RequestTrace} from '../trace/schema.js'
import {
  NUMERIC_FIELDS,
  beyondTolerance,
  budgetField,
  callField,
  callKey,
  decisionField,
  decisionKey,
  flattenArgs,
  guardrailField,
  numericValue,
  occurrences,
} from './fields.js'
import type {NoiseProfile} from './types.js'

/**
 * Noise cancellation in the manner of Twitter's Diffy: run each side more than once, note which
 * fields differ between runs of the same side, and treat a base-versus-candidate difference in one
 * of those fields as noise rather than as a change the candidate made.
 */

export type NoiseOptions = {
  /** Relative spread between repeats of a number (tokens, cost, latency) that counts as varying. */
  tolerance?: number
}

/** The fields of one trace, by the same names the diff uses. Exported for tests and tools. */
export function traceFields(t: RequestTrace): Map<string, string> {
  const out = new Map<string, string>()
  out.set('status', t.status)
  out.set('answer', t.final_answer)
  out.set('steps', t.steps.map((s) => s.state).join(','))
  const callOcc = occurrences(t.tool_calls, callKey)
  t.tool_calls.forEach((c, i) => {
    const field = callField(c.name, callOcc[i]!)
    out.set(field, 'present')
    out.set(`${field}.outcome`, c.outcome)
    out.set(`${field}.executed`, String(c.executed))
    out.set(`${field}.args`, c.args_hash)
    for (const [path, value] of flattenArgs(c.args)) out.set(`${field}.args.${path}`, value)
  })
  const decOcc = occurrences(t.policy_decisions, decisionKey)
  t.policy_decisions.forEach((d, i) => {
    out.set(decisionField(decisionKey(d), decOcc[i]!), `${d.decision} ${d.reason}`)
  })
  for (const g of t.guardrails) {
    if (g.passed) continue
    const f = guardrailField(g)
    out.set(f, String(Number(out.get(f) ?? 0) + 1))
  }
  for (const b of t.budget_hits) out.set(budgetField(b), 'hit')
  return out
}

function varyingFields(repeats: RequestTrace[], tolerance: number, into: Set<string>): void {
  if (repeats.length < 2) return
  const prints = repeats.map(traceFields)
  const all = new Set<string>()
  for (const p of prints) for (const k of p.keys()) all.add(k)
  for (const k of all) {
    const first = prints[0]!.get(k)
    if (prints.some((p) => p.get(k) !== first)) into.add(k)
  }
  for (const f of NUMERIC_FIELDS) {
    const values = repeats.map((t) => numericValue(t, f))
    if (beyondTolerance(Math.min(...values), Math.max(...values), tolerance)) into.add(f)
  }
}

export function noiseProfile(candRepeats: RequestTrace[], baseRepeats: RequestTrace[], options: NoiseOptions = {}): NoiseProfile {
  const tolerance = options.tolerance ?? 0.2
  const fields = new Set<string>()
  varyingFields(candRepeats, tolerance, fields)
  varyingFields(baseRepeats, tolerance, fields)
  return {repeats: {base: baseRepeats.length, cand: candRepeats.length}, fields}
}
