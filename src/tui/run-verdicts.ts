import {useEffect, useRef, useState} from 'react'
import type {RunInfo} from '../store/api.js'
import type {Colour} from '../scorecard/scorecard.js'

/**
 * The runs list's VERDICT and REGR columns. Each needs the run's summary, one pass over all its
 * traces (src/runs/run-summary.ts), so they are worked out lazily: only for the runs on screen, one
 * run at a time with the event loop given back between runs (keys keep working while a long list
 * fills in), and remembered for the session. A run's answer is keyed by its status and request
 * count, so a run that was still going is worked out again once it has more.
 */

export type RunVerdict = {colour: Colour; regressions: number} | {error: string}

export class VerdictCache {
  private readonly done = new Map<string, RunVerdict>()
  private readonly pending = new Set<string>()

  constructor(readonly compute: (run: RunInfo) => Promise<RunVerdict>) {}

  static key(run: RunInfo): string {
    return `${run.id}\u0000${run.status}\u0000${run.requests_done}`
  }

  get(run: RunInfo): RunVerdict | undefined {
    return this.done.get(VerdictCache.key(run))
  }

  /** Works out the verdicts of `runs` not known yet, in turn; `onEach` after each; stops once `cancelled`. */
  async fill(runs: readonly RunInfo[], onEach: () => void, cancelled: () => boolean): Promise<void> {
    for (const run of runs) {
      const key = VerdictCache.key(run)
      if (cancelled()) return
      if (this.done.has(key) || this.pending.has(key)) continue
      this.pending.add(key)
      try {
        this.done.set(key, await this.compute(run))
      } catch (e) {
        this.done.set(key, {error: (e as Error).message})
      } finally {
        this.pending.delete(key)
      }
      onEach()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}

/** Fills the verdicts of `visible` (the rows on screen) and re-renders as each arrives. */
export function useRunVerdicts(cache: VerdictCache, visible: readonly RunInfo[]): (run: RunInfo) => RunVerdict | undefined {
  const [, setTick] = useState(0)
  // A verdict started for rows since scrolled away still lands in the cache and redraws the list.
  const mounted = useRef(true)
  useEffect(
    () => () => {
      mounted.current = false
    },
    [],
  )
  const ids = visible.map(VerdictCache.key).join('\n')
  // biome-ignore lint/correctness/useExhaustiveDependencies: `ids` names the visible runs; the array itself is new each render
  useEffect(() => {
    let cancelled = false
    void cache.fill(
      visible,
      () => {
        if (mounted.current) setTick((t) => t + 1)
      },
      () => cancelled,
    )
    return () => {
      cancelled = true
    }
  }, [cache, ids])
  return (run) => cache.get(run)
}
