import {listRun} from '../runs/diff-list.js'
import {CLASSES, type DiffClass} from '../diff/types.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {UnderstudyError} from '../errors.js'
import {formatServerCalls, type ServerCalls} from '../model/ollama-pool.js'
import {progressFigures} from './progress.js'
import {ShadowStopped, type ShadowResult, type SkippedLine} from './run.js'

/** What `understudy shadow` reports when it ends (and returns for --json). */
export type ShadowSummary = {
  run: RunInfo
  db: string
  interrupted: boolean
  resumed: boolean
  elapsed_s: number
  requests_per_s: number
  requests: number
  /** Lines this process skipped: each not replayed, so in no comparison or figure. */
  skipped: number
  /** The first of them (up to 1,000), each with every problem found on it. */
  skipped_lines: SkippedLine[]
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
  /** `--ollama-host a,b,c`: model calls per server in this process ([] with one server). */
  servers: ServerCalls[]
  next: string[]
}

export async function shadowSummary(store: TraceDatabase, result: ShadowResult, db: string): Promise<ShadowSummary> {
  const status: Record<string, Record<string, number>> = {}
  for (const c of store.traceCounts(result.run.id)) (status[c.side] ??= {})[c.status] = c.count
  const f = progressFigures(result.progress)
  const {counts: classes} = await listRun(store, result.run, 'none', () => {})
  const id = result.run.id
  const dbArg = dbArgument(db)
  const next = result.interrupted
    ? [resumeCommand(id, db)]
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
    skipped_lines: result.skipped_lines,
    already_stored: result.progress.already_stored,
    status,
    policy_denials: result.progress.denials,
    tool_errors: result.progress.tool_errors,
    budget_hits: result.progress.budget_hits,
    classes,
    notices: result.notices,
    servers: result.servers,
    next,
  }
}

const dbArgument = (db: string): string => (db === '.understudy/understudy.db' ? '' : ` --db ${db}`)

/** The command that continues run `id` of the store `db` (as the user named it). */
export function resumeCommand(id: string, db: string): string {
  return `understudy shadow --resume ${id}${dbArgument(db)}`
}

/**
 * A run stopped early but resumable (ShadowStopped) gets the `--resume` command on its one line, as
 * an interrupted run's summary ends with it; any other error is returned as it is.
 */
export function withResumeHint(e: unknown, db: string): unknown {
  if (!(e instanceof ShadowStopped)) return e
  return new UnderstudyError(`${e.message}; resume with: ${resumeCommand(e.runId, db)}`, {cause: e, exitCode: e.exitCode})
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
  lines.push(
    `  candidate policy denials ${s.policy_denials}, tool errors ${s.tool_errors}, budget hits ${s.budget_hits}, skipped lines ${s.skipped}` +
      (s.skipped > 0 ? ' (not replayed, so in no comparison or figure; each is on stderr)' : ''),
  )
  const compared = CLASSES.map((c) => `${c.replace('_', ' ')} ${s.classes[c]}`).join(', ')
  lines.push(`  compared with ${s.run.baseline_ref}: ${compared}`)
  if (s.servers.length > 0) lines.push(`  model servers: ${formatServerCalls(s.servers)}`)
  lines.push(`  stored in ${s.db}`)
  lines.push(s.interrupted ? 'resume with:' : 'next:')
  for (const n of s.next) lines.push(`  ${n}`)
  return lines.join('\n') + '\n'
}
