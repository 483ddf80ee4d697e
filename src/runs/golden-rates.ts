import {baseSideOf} from '../diff/compare.js'
import {EvalAccumulator} from '../eval/evaluate.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'

/** Golden-expectation pass rates per side (src/eval), when the run's traffic carries expectations. */
export type GoldenRates = {base: number | null; cand: number | null}

/**
 * The golden-expectation pass rates of both sides of a run, fed trace by trace from any pass over
 * the run's traces (all sides, line order), so that a caller already walking the run need not walk
 * it again. Each side's golden pass rate is the one `evaluateRun` gives for that side alone. The
 * expectations are those stored with the traces (RequestTrace.golden): no traffic file is read.
 */
export class GoldenRatesAccumulator {
  private readonly baseSide: TraceSide
  private readonly base: EvalAccumulator
  private readonly cand: EvalAccumulator

  constructor(run: RunInfo) {
    this.baseSide = baseSideOf(run)
    this.base = new EvalAccumulator(run.id, {suites: ['golden']})
    this.cand = new EvalAccumulator(run.id, {suites: ['golden']})
  }

  /** Traces of other sides (a recorded trace in a run against a baseline) are not judged. */
  add(trace: RequestTrace): void {
    if (trace.side === 'candidate') this.cand.add(null, trace)
    else if (trace.side === this.baseSide) this.base.add(null, trace)
  }

  /** Null for both sides when the candidate's requests carry no expectations. */
  rates(): GoldenRates {
    return goldenRatesOf([this.tally()])
  }

  /** The counts behind the rates, to add up with those of other parts of the run. */
  tally(): GoldenTally {
    const count = (acc: EvalAccumulator): {applicable: number; passed: number} => {
      const golden = acc.summary().results.golden
      return {applicable: golden?.applicable ?? 0, passed: golden?.passed ?? 0}
    }
    return {base: count(this.base), cand: count(this.cand)}
  }
}

/** Golden requests judged (known issues aside) and passed, per side, over some part of a run. */
export type GoldenTally = {base: {applicable: number; passed: number}; cand: {applicable: number; passed: number}}

/**
 * The pass rates of the parts' tallies added up: what one accumulator fed the whole run gives
 * (each rate is passed / applicable, null when nothing applied; the base's only beside a candidate's).
 */
export function goldenRatesOf(tallies: readonly GoldenTally[]): GoldenRates {
  const sum = (side: 'base' | 'cand'): number | null => {
    let applicable = 0
    let passed = 0
    for (const t of tallies) {
      applicable += t[side].applicable
      passed += t[side].passed
    }
    return applicable === 0 ? null : passed / applicable
  }
  const cand = sum('cand')
  if (cand === null) return {base: null, cand: null}
  return {base: sum('base'), cand}
}

/**
 * The golden-expectation pass rate of both sides of a run, for the scorecard's Quality dimension,
 * in one pass over the traces. Null for both sides when the candidate's requests carry no expectations.
 */
export function goldenRates(store: TraceStore, run: RunInfo): GoldenRates {
  const acc = new GoldenRatesAccumulator(run)
  for (const trace of store.iterateTraces(run.id)) acc.add(trace)
  return acc.rates()
}
