import {readFileSync} from 'node:fs'
import {compareGroup} from '../../src/diff/compare.js'
import {listRun} from '../../src/runs/diff-list.js'
import type {RunInfo, TraceStore} from '../../src/store/api.js'
import {CLASSES, type DiffClass} from '../../src/diff/types.js'
import type {RequestTrace} from '../../src/trace/schema.js'

/**
 * The per-class counts a scenario's README states for its default run (baseline v1 against the
 * candidate, both replayed), worked out from the replays its tests already make: each bundle's
 * traces, taken from a run against the recording, compared request by request as the run would
 * (repeat 0, the first bundle on the baseline side). No extra replay.
 */
export type ClassCounts = {classes: Record<DiffClass, number>; codes: Record<string, number>}

export function classCounts(base: Iterable<RequestTrace>, cand: Iterable<RequestTrace>): ClassCounts {
  const candById = new Map<string, RequestTrace>()
  for (const t of cand) candById.set(t.request_id, t)
  const classes = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DiffClass, number>
  const codes: Record<string, number> = {}
  for (const b of base) {
    const c = candById.get(b.request_id)
    if (!c) continue
    const traces = [{...b, side: 'baseline' as const}, {...c, side: 'candidate' as const}]
    const r = compareGroup({request_id: b.request_id, line: b.line, traces}, 'baseline', {answerParts: false})
    const cls = r.classification!
    classes[cls.class]++
    // Requests per reason code of the three classes a reviewer acts on (benign codes are noise here).
    const seen = new Set<string>()
    for (const reason of cls.reasons) {
      if (reason.class === 'benign') continue
      const key = `${reason.class}:${reason.code}`
      if (seen.has(key)) continue
      seen.add(key)
      codes[key] = (codes[key] ?? 0) + 1
    }
  }
  return {classes, codes: Object.fromEntries(Object.entries(codes).sort(([a], [b]) => (a < b ? -1 : 1)))}
}

/**
 * The same counts read from a stored run exactly as `understudy diff` and the `shadow` summary read
 * it (the run's own baseline side, failing guardrail results only): for a README that states what
 * `understudy shadow --scenario <dir>` prints.
 */
export async function runClassCounts(store: TraceStore, run: RunInfo): Promise<ClassCounts> {
  const codes: Record<string, number> = {}
  const {counts} = await listRun(store, run, 'all', (r) => {
    const seen = new Set<string>()
    for (const reason of r.reasons) {
      if (reason.class === 'benign') continue
      const key = `${reason.class}:${reason.code}`
      if (seen.has(key)) continue
      seen.add(key)
      codes[key] = (codes[key] ?? 0) + 1
    }
  })
  return {classes: counts, codes: Object.fromEntries(Object.entries(codes).sort(([a], [b]) => (a < b ? -1 : 1)))}
}

/**
 * The counts table of a scenario README's "Expected counts" section: rows `| class | code | n |`,
 * code `(requests)` for the number of requests whose overall class it is.
 */
function readmeCounts(readme: string): ClassCounts {
  const text = readFileSync(readme, 'utf8')
  const at = text.indexOf('### Expected counts')
  if (at < 0) throw new Error(`${readme}: no "### Expected counts" section (PRINT_COUNTS=1 prints the table to add)`)
  const classes = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DiffClass, number>
  const codes: Record<string, number> = {}
  const section = text.slice(at).split('\n### ')[0]!.split('\n## ')[0]!
  for (const line of section.split('\n')) {
    const m = /^\|\s*([a-z_]+)\s*\|\s*`?([a-z_()]+)`?\s*\|\s*(\d+)\s*\|$/.exec(line.trim())
    if (!m) continue
    const [, cls, code, n] = m
    if (code === '(requests)') classes[cls as DiffClass] = Number(n)
    else codes[`${cls}:${code}`] = Number(n)
  }
  return {classes, codes: Object.fromEntries(Object.entries(codes).sort(([a], [b]) => (a < b ? -1 : 1)))}
}

/** The README table for `counts` (printed by the scenario tests with PRINT_COUNTS=1, to paste after a deliberate change). */
function countsTable(counts: ClassCounts): string {
  const rows = ['| class | code | requests |', '|---|---|---|']
  for (const c of CLASSES) rows.push(`| ${c} | (requests) | ${counts.classes[c]} |`)
  for (const [key, n] of Object.entries(counts.codes)) {
    const [cls, code] = key.split(':')
    rows.push(`| ${cls} | \`${code}\` | ${n} |`)
  }
  return rows.join('\n')
}

/** The README's counts against those computed; prints the computed table first when PRINT_COUNTS is set. */
export function expectedAndActual(readme: string, actual: ClassCounts): {expected: ClassCounts; actual: ClassCounts} {
  if (process.env.PRINT_COUNTS) console.log(`${readme}\n${countsTable(actual)}`)
  return {expected: readmeCounts(readme), actual}
}
