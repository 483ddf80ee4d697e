import {acceptedLines} from '../report/accepted.js'
import type {AcceptedList} from '../runs/accepted-file.js'
import {runSummary} from '../runs/run-summary.js'
import {CLASSES, type DiffClass} from '../diff/types.js'
import {rollbackFrequency} from '../rollout/history.js'
import {verdictOf, type Verdict} from '../scorecard/render.js'
import {scorecard} from '../scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, type Thresholds} from '../scorecard/thresholds.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {UnderstudyError} from '../errors.js'
import type {ModelCallCount} from '../model/exchange-cache.js'
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
  /** Model calls this process made, and those the store's model-call cache answered instead (`--model-cache`). */
  model_calls: ModelCallCount
  /** What the run could not measure, said before it started (model-free replay). */
  notices: string[]
  /** `--ollama-host a,b,c`: model calls per server in this process ([] with one server). */
  servers: ServerCalls[]
  /** Replay threads this process used (`--threads`; 1: the requests were replayed on the main thread). */
  threads: number
  next: string[]
  /** The scorecard's verdict on the run (null for an interrupted run, which is not judged until it is finished). */
  verdict: Verdict | null
  /** The accepted-differences file the verdict honoured, its requests counted apart, and the lines saying so (stale entries included). */
  accepted: {file: string; requests: number; lines: string[]} | null
}

/** What the verdict is judged against: the thresholds and the file they came from (null: the defaults). */
export type VerdictOptions = {thresholds?: Thresholds; thresholdsFile?: string | null; accepted?: AcceptedList | null}

export async function shadowSummary(store: TraceDatabase, result: ShadowResult, db: string, options: VerdictOptions = {}): Promise<ShadowSummary> {
  const status: Record<string, Record<string, number>> = {}
  for (const c of store.traceCounts(result.run.id)) (status[c.side] ??= {})[c.status] = c.count
  const f = progressFigures(result.progress)
  // One pass gives both the classes and the scorecard the verdict is read from.
  const accepted = options.accepted ?? null
  const {summary, golden} = await runSummary(store, result.run, {accepted: accepted?.entries})
  const classes = summary.classes
  const verdict = result.interrupted
    ? null
    : verdictOf(scorecard(summary, options.thresholds ?? DEFAULT_THRESHOLDS, golden, rollbackFrequency(store.listBundleHistory())), options.thresholdsFile ?? null)
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
    model_calls: result.model_calls,
    notices: result.notices,
    servers: result.servers,
    threads: result.threads,
    next,
    verdict,
    accepted: accepted === null ? null : {file: accepted.file, requests: summary.requests.accepted, lines: acceptedLines(summary, accepted.file)},
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
    `run ${s.run.id} ${verb}: ${s.requests} requests in ${s.elapsed_s.toFixed(1)}s (${s.requests_per_s.toFixed(0)}/s${s.threads > 1 ? ` on ${s.threads} replay threads` : ''})` +
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
  lines.push(`  model calls ${s.model_calls.made} made, ${s.model_calls.avoided} avoided (answered from the store's model-call cache)`)
  const compared = CLASSES.map((c) => `${c.replace('_', ' ')} ${s.classes[c]}`).join(', ')
  lines.push(`  compared with ${s.run.baseline_ref}: ${compared}${s.accepted === null ? '' : `, accepted ${s.accepted.requests}`}`)
  if (s.accepted !== null) for (const l of s.accepted.lines) lines.push(`  ${l}`)
  if (s.servers.length > 0) lines.push(`  model servers: ${formatServerCalls(s.servers)}`)
  lines.push(`  stored in ${s.db}`)
  lines.push(s.interrupted ? 'resume with:' : 'next:')
  for (const n of s.next) lines.push(`  ${n}`)
  // The last line, where a reader (or `tail -1` in CI) looks first.
  if (s.verdict !== null) lines.push(s.verdict.line)
  return lines.join('\n') + '\n'
}
