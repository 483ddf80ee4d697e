import {copyFileSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {compareGroup} from '../../src/diff/compare.js'
import {listRun as listFromSource, type ListedRequest} from '../../src/runs/diff-list.js'
import {groupByRequest} from '../../src/runs/group.js'
import {summarizeRun} from '../../src/runs/summary.js'
import {scoreRun as scoreFromSource} from '../../src/rollout/score.js'
import {DEFAULT_THRESHOLDS} from '../../src/scorecard/thresholds.js'
import {startShadow} from '../../src/shadow/run.js'
import type {RunInfo, TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot} from '../helpers/cli.js'

// Worker threads only exist compiled (dist/; `npm test` builds first). From the sources mapRun
// reads the whole run on this thread, so the sources give the reference and dist/ the split reads.
const dist = (p: string) => pathToFileURL(path.join(repoRoot, 'dist', p)).href
const compiled = {
  mapRun: ((await import(dist('src/runs/map-run.js'))) as typeof import('../../src/runs/map-run.js')).mapRun,
  list: (await import(dist('src/runs/diff-list.js'))) as typeof import('../../src/runs/diff-list.js'),
  listRun: ((await import(dist('src/runs/diff-list.js'))) as {listRun: typeof listFromSource}).listRun,
  scoreRun: ((await import(dist('src/rollout/score.js'))) as {scoreRun: typeof scoreFromSource}).scoreRun,
}

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
// 720 requests, two traces each: 1,440 traces cut into 3 ranges of ~480.
const SPLIT = {threads: 3, minTracesPerRange: 100}

let dir: string
let file: string
let store: TraceDatabase
let run: RunInfo

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-map-run-'))
  file = path.join(dir, 'understudy.db')
  store = openStore(file)
  const result = await startShadow(
    {traffic: path.join(scenario, 'traffic.jsonl'), candidate: path.join(scenario, 'v2'), fixtures: path.join(scenario, 'fixtures.yaml'), skills: [path.join(scenario, 'skill', 'index.ts')]},
    store,
  )
  run = result.run
}, 60_000)

afterAll(() => {
  store?.close()
  rmSync(dir, {recursive: true, force: true})
})

async function listAll(list: typeof listFromSource, s: TraceDatabase, options: {threads: number; minTracesPerRange?: number}) {
  const listed: ListedRequest[] = []
  const totals = await list(s, run, 'all', (r) => listed.push(r), options)
  return {listed, totals}
}

describe('mapRun: a run read in line ranges on worker threads', () => {
  it('cuts the run where the store says, so every range starts at a request', () => {
    const cuts = store.lineSplits(run.id, 3)
    expect(cuts).toHaveLength(2)
    expect(cuts[0]).toBeLessThan(cuts[1]!)
    // Each range holds about a third of the traces.
    const counts = [store.countTraces(run.id, {toLine: cuts[0]}), store.countTraces(run.id, {fromLine: cuts[0], toLine: cuts[1]}), store.countTraces(run.id, {fromLine: cuts[1]})]
    expect(counts.reduce((a, b) => a + b)).toBe(store.countTraces(run.id))
    for (const n of counts) expect(Math.abs(n - 480)).toBeLessThanOrEqual(2)
  })

  it('hands back one total per range, each range read by its own task, the first a little larger', async () => {
    const ref = {module: dist('src/runs/diff-list.js'), name: 'diffListTask', factory: compiled.list.diffListTask, args: {baseSide: 'recorded' as const, only: 'none' as const}}
    const totals = await compiled.mapRun(store, run.id, ref, () => {}, SPLIT)
    expect(totals).toHaveLength(3)
    const requests = totals.map((t) => Object.values(t.counts).reduce((a, b) => a + b))
    expect(requests.reduce((a, b) => a + b)).toBe(720)
    // Weights 1.1 : 1 : 1 of 720 requests: 254, 233, 233, give or take a slice of the run.
    expect(Math.abs(requests[0]! - 254)).toBeLessThanOrEqual(8)
    for (const n of requests.slice(1)) expect(Math.abs(n - 233)).toBeLessThanOrEqual(8)
  })

  it('lists the same requests, in the same order, with the same counts as one pass', async () => {
    const one = await listAll(listFromSource, store, {threads: 1})
    const split = await listAll(compiled.listRun, store, SPLIT)
    expect(one.listed).toHaveLength(720)
    expect(one.listed.map((r) => r.line)).toEqual([...one.listed.map((r) => r.line)].sort((a, b) => a - b))
    expect(split.listed).toEqual(one.listed)
    expect(split.totals).toEqual(one.totals)
    expect(Object.values(one.totals.counts).reduce((a, b) => a + b)).toBe(720)
  })

  it('gives the same summary and scorecard, golden rates included, as one pass', async () => {
    const one = await scoreFromSource(store, run.id, DEFAULT_THRESHOLDS, {threads: 1})
    const split = await compiled.scoreRun(store, run.id, DEFAULT_THRESHOLDS, SPLIT)
    // The scenario's traffic carries expectations, so the golden rates come from every range.
    const quality = one.card.dimensions.find((d) => d.name === 'quality')!
    expect(quality.metrics.find((m) => m.name === 'golden_pass_rate')?.value).toBeGreaterThan(0)
    expect(split.summary).toEqual(one.summary)
    expect(split.card).toEqual(one.card)
  })

  it('reads failing guardrail results only, and compares, lists and sums the run as the full traces do', async () => {
    const full = [...groupByRequest(store.iterateTraces(run.id))]
    const lean = [...groupByRequest(store.iterateTraces(run.id, {guardrails: 'failed'}))]
    expect(lean).toHaveLength(720)
    // The replay's candidate traces hold passing results, which the lean read leaves out.
    expect(full.some((g) => g.traces.some((t) => t.guardrails.some((r) => r.passed)))).toBe(true)
    expect(lean.every((g) => g.traces.every((t) => t.guardrails.every((r) => !r.passed)))).toBe(true)
    for (let i = 0; i < full.length; i++) {
      const a = compareGroup(full[i]!, 'recorded')
      const b = compareGroup(lean[i]!, 'recorded')
      expect([b.diff, b.classification, b.noise]).toEqual([a.diff, a.classification, a.noise])
    }
    // Summary and scorecard from the lean reads (one range, and split) against one pass over full traces.
    const reference = summarizeRun(store, run.id)
    expect((await scoreFromSource(store, run.id, DEFAULT_THRESHOLDS, {threads: 1})).summary).toEqual(reference)
    expect((await compiled.scoreRun(store, run.id, DEFAULT_THRESHOLDS, SPLIT)).summary).toEqual(reference)
  })

  it('keeps the first regressions in full, whichever range read them', async () => {
    const one = await scoreFromSource(store, run.id, DEFAULT_THRESHOLDS, {threads: 1})
    expect(one.summary.regressions.count).toBeGreaterThan(0)
    const split = await compiled.scoreRun(store, run.id, DEFAULT_THRESHOLDS, {threads: 4, minTracesPerRange: 10})
    expect(split.summary.regressions.diffs.map((d) => d.diff.request_id)).toEqual(one.summary.regressions.ids.slice(0, split.summary.regressions.diffs.length))
    expect(split.summary.regressions).toEqual(one.summary.regressions)
  })

  it('reads a small run, or an in-memory store, on this thread alone', async () => {
    const memory = openStore(':memory:')
    try {
      const m = memory.createRun({...run, name: null})
      const listed: ListedRequest[] = []
      const totals = await compiled.listRun(memory, m, 'all', (r) => listed.push(r), SPLIT)
      expect(listed).toEqual([])
      expect(totals.incomplete).toBe(0)
    } finally {
      memory.close()
    }
    // 1,440 traces under the default of 20,000 a range: no worker, same answer.
    expect((await listAll(compiled.listRun, store, {threads: 4})).listed).toHaveLength(720)
  })

  it("reports a worker's failure with its message, after the facts of the ranges before it", async () => {
    const broken = path.join(dir, 'broken.db')
    store.close()
    copyFileSync(file, broken)
    store = openStore(file)
    const raw = new Database(broken)
    // A trace near the end (so in the last range) whose stored tool calls are not JSON.
    const bad = raw.prepare(`SELECT line FROM requests WHERE line >= 700 AND tool_calls_json <> '[]' ORDER BY line LIMIT 1`).pluck().get() as number
    expect(raw.prepare(`UPDATE requests SET tool_calls_json = '[[broken' WHERE line = ? AND side = 'candidate'`).run(bad).changes).toBe(1)
    raw.close()
    const whole = (await listAll(listFromSource, store, {threads: 1})).listed
    const s = openStore(broken, {readonly: true})
    try {
      const listed: ListedRequest[] = []
      const failure = compiled.listRun(s, run, 'all', (r) => listed.push(r), SPLIT)
      // The worker's StoreError comes through as one line naming the trace, not as a parser's stack.
      await expect(failure).rejects.toThrow(/^[^\n]*broken\.db: stored trace of request "req-\d+" \(line \d+, candidate, repeat 0\) of run r\S+ cannot be read: [^\n]*JSON[^\n]*$/)
      await expect(failure).rejects.toMatchObject({name: 'StoreError'})
      // Both earlier ranges (about two thirds of the run) were folded, in order, before the failure.
      expect(listed.length).toBeGreaterThanOrEqual(470)
      expect(listed).toEqual(whole.slice(0, listed.length))
      expect(listed.every((r) => r.line < bad)).toBe(true)
    } finally {
      s.close()
    }
  })
})
