import {listRun} from '../runs/diff-list.js'
import {CLASSES, type DiffClass} from '../diff/types.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {progressFigures} from './progress.js'
import type {ShadowResult} from './run.js'

/** What `understudy shadow` reports when it ends (and returns for --json). */
export type ShadowSummary = {
  run: RunInfo
  db: string
  interrupted: boolean
  resumed: boolean
  elapsed_s: number
  requests_per_s: number
  requests: number
  skipped: number
  already_stored: number
  /** side -> status -> count, over everything stored for the run (not only this process). */
  status: Record<string, Record<string, number>>
  policy_denials: number
  tool_errors: number
  budget_hits: number
  /** Candidate vs baseline, per class (same, benign, behaviour_change, regression, improvement). */
  classes: Record<DiffClass, number>
  /** What the run could not measure, said before it started (model-free replay). */
  notices: string[]
  next: string[]
}

export async function shadowSummary(store: TraceDatabase, result: ShadowResult, db: string): Promise<ShadowSummary> {
  const status: Record<string, Record<string, number>> = {}
  for (const c of store.traceCounts(result.run.id)) (status[c.side] ??= {})[c.status] = c.count
  const f = progressFigures(result.progress)
  const {counts: classes} = await listRun(store, result.run, 'none', () => {})
  const id = result.run.id
  const dbArg = db === '.understudy/understudy.db' ? '' : ` --db ${db}`
  const next = result.interrupted
    ? [`understudy shadow --resume ${id}${dbArg}`]
    : [
        `understudy diff ${id}${dbArg}`,
        `understudy report ${id} --format html --out report.html${dbArg}`,
        `understudy scorecard ${id}${dbArg}`,
      ]
  return {
    run: result.run,
    db,
    interrupted: result.interrupted,
    resumed: result.resumed,
    elapsed_s: f.elapsed_s,
    requests_per_s: f.rate_per_s,
    requests: result.progress.requests,
    skipped: result.progress.skipped,
    already_stored: result.progress.already_stored,
    status,
    policy_denials: result.progress.denials,
    tool_errors: result.progress.tool_errors,
    budget_hits: result.progress.budget_hits,
    classes,
    notices: result.notices,
    next,
  }
}

const SIDE_ORDER = ['recorded', 'baseline', 'candidate']

export function renderShadowSummary(s: ShadowSummary): string {
  const lines: string[] = []
  const verb = s.interrupted ? 'interrupted' : s.run.status
  lines.push(
    `run ${s.run.id} ${verb}: ${s.requests} requests in ${s.elapsed_s.toFixed(1)}s (${s.requests_per_s.toFixed(0)}/s)` +
      (s.resumed ? `, ${s.already_stored} already stored before resuming` : ''),
  )
  lines.push(`  candidate ${s.run.candidate_ref}  vs  ${s.run.baseline_ref}   model ${s.run.model}`)
  for (const side of SIDE_ORDER) {
    const counts = s.status[side]
    if (!counts) continue
    const parts = Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
    lines.push(`  ${side.padEnd(9)} ${parts.join(', ')}`)
  }
  lines.push(`  candidate policy denials ${s.policy_denials}, tool errors ${s.tool_errors}, budget hits ${s.budget_hits}, skipped lines ${s.skipped}`)
  const compared = CLASSES.map((c) => `${c.replace('_', ' ')} ${s.classes[c]}`).join(', ')
  lines.push(`  compared with ${s.run.baseline_ref}: ${compared}`)
  lines.push(`  stored in ${s.db}`)
  lines.push(s.interrupted ? 'resume with:' : 'next:')
  for (const n of s.next) lines.push(`  ${n}`)
  return lines.join('\n') + '\n'
}
