import {expectationDelta} from '../eval/golden.js'
import type {RunInfo} from '../store/api.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import {classifyRequest} from './classify.js'
import {noiseProfile} from './noise.js'
import {diffRequest} from './request-diff.js'
import type {Classification, ClassifyContext, NoiseProfile, RequestDiff} from './types.js'

/** The side a run's candidate is compared against. */
export function baseSideOf(run: Pick<RunInfo, 'baseline_ref'>): Exclude<TraceSide, 'candidate'> {
  return run.baseline_ref === 'recorded' ? 'recorded' : 'baseline'
}

/** Every trace of one request, as the store yields them (side, then repeat); src/runs/group.ts makes them. */
export type TraceGroup = {request_id: string; line: number; traces: RequestTrace[]}

export type ComparedRequest = {
  request_id: string
  line: number
  /** Repeat 0 of each side; null when that side has no trace (yet). */
  base: RequestTrace | null
  cand: RequestTrace | null
  /** Null unless both sides are present. */
  diff: RequestDiff | null
  classification: Classification | null
  noise: NoiseProfile | null
}

export type CompareOptions = Omit<ClassifyContext, 'noise'> & {answerParts?: boolean}

const byRepeat = (a: RequestTrace, b: RequestTrace): number => a.repeat - b.repeat

/** Diffs and classifies one request's traces. Pure. */
export function compareGroup(group: TraceGroup, baseSide: TraceSide, options: CompareOptions = {}): ComparedRequest {
  const baseRepeats: RequestTrace[] = []
  const candRepeats: RequestTrace[] = []
  for (const t of group.traces) {
    if (t.side === 'candidate') candRepeats.push(t)
    else if (t.side === baseSide) baseRepeats.push(t)
  }
  // Sorting one-element arrays is the common case; skip it.
  if (baseRepeats.length > 1) baseRepeats.sort(byRepeat)
  if (candRepeats.length > 1) candRepeats.sort(byRepeat)
  const base = baseRepeats[0] ?? null
  const cand = candRepeats[0] ?? null
  const out: ComparedRequest = {request_id: group.request_id, line: group.line, base, cand, diff: null, classification: null, noise: null}
  if (!base || !cand) return out
  if (baseRepeats.length > 1 || candRepeats.length > 1) out.noise = noiseProfile(candRepeats, baseRepeats, {tolerance: options.tolerance})
  out.diff = diffRequest(base, cand, {answerParts: options.answerParts})
  // The request's expectations judged on both sides: the evidence an improvement needs.
  const expectation = options.expectation ?? expectationDelta(base, cand) ?? undefined
  out.classification = classifyRequest(out.diff, {...options, noise: out.noise ?? undefined, expectation})
  return out
}
