import path from 'node:path'
import {loadBundle} from '../bundle/load.js'
import {BundleManifest, type Bundle} from '../bundle/schema.js'
import {readRequestLabels} from '../runs/traffic-join.js'
import {UnderstudyError} from '../errors.js'
import {degrade, killSwitch} from '../incident/variants.js'
import {writeBundle} from '../incident/write-bundle.js'
import {lastKnownGood} from '../rollout/history.js'
import {markBad, promoteBundle} from '../rollout/promote.js'
import {startShadow} from '../shadow/run.js'
import type {RequestTrace} from '../trace/schema.js'
import type {TraceDatabase} from '../store/api.js'
import {evaluateGolden, goldenIds, type GoldenResult} from './golden.js'
import {findHarm, type HarmfulAction} from './harm.js'
import {judgeDrill, type DrillVerdict} from './judge.js'
import {formatStep, type Drill, type DrillStep} from './spec.js'

/**
 * `understudy drill`: an incident, end to end, on recorded traffic. The good bundle is promoted, the
 * bad one ships; a shadow run of the traffic finds the harm (time to detect); the shipped bundle is
 * marked bad and the operator's steps turn it into a mitigated bundle, which replays the same
 * traffic (time to mitigate). The drill passes when the harm is gone and the golden tasks still
 * pass. Every run and promotion goes to `env`, the drill's own store, so a drill never writes into
 * a real rollout history.
 */

/** Examples of harmful actions kept in the report; counts are always complete. */
export const MAX_EXAMPLES = 10

export type DrillOptions = {
  /** Where the mitigated bundle is written (as `<workDir>/mitigated`). */
  workDir: string
  /** The operator's steps; the drill file's when not given (a test or `--step` tries other ones). */
  steps?: DrillStep[]
  /** Model spec for the shadow runs (`scripted` etc.); null = each bundle's own. */
  model?: string | null
  concurrency?: number
  now?: () => number
  onPhase?: (phase: string) => void
}

export type DrillReport = {
  scenario: string
  dir: string
  passed: boolean
  reasons: string[]
  started_at: string
  finished_at: string
  bundles: {good: string; bad: string; mitigated: string | null}
  steps: {step: string; result: string}[]
  timings: {time_to_detect_ms: number; time_to_mitigate_ms: number | null; total_ms: number}
  detection: {
    run_id: string
    requests: number
    harmful: number
    /** The first harmful action in traffic order: where an operator watching the run would have seen it. */
    first: {request_id: string; line: number; position: number} | null
    examples: HarmfulAction[]
    /** Harmful actions the good bundle makes on the same traffic (should be 0, else the harm spec is too broad). */
    good_bundle_harmful: number
    golden_on_good_bundle: GoldenResult
  }
  mitigation: {run_id: string; bundle_dir: string; harmful: number; examples: HarmfulAction[]; golden: GoldenResult} | null
}

function collect(store: TraceDatabase, runId: string, side: 'baseline' | 'candidate'): RequestTrace[] {
  return [...store.iterateTraces(runId, {side, repeat: 0})]
}

type Current = {manifest: BundleManifest; templates: Record<string, string>; ref: string}

async function applyStep(env: TraceDatabase, current: Current, step: DrillStep): Promise<Current> {
  if ('kill-switch' in step) return {...current, manifest: killSwitch(current.manifest, step['kill-switch'], current.ref)}
  if ('degrade' in step) return {...current, manifest: degrade(current.manifest, step.degrade)}
  if (step.rollback !== 'last-known-good') {
    const b = await loadBundle(step.rollback)
    return {manifest: b.manifest, templates: b.templates, ref: b.ref}
  }
  const entry = lastKnownGood(env.listBundleHistory())
  if (!entry) throw new UnderstudyError('rollback: no known-good bundle in the drill history')
  const record = env.getBundle(entry.bundle_hash)
  const manifest = BundleManifest.safeParse(record?.manifest)
  if (!record?.templates || !manifest.success) throw new UnderstudyError(`rollback: ${entry.bundle_ref} is not stored in full`)
  return {manifest: manifest.data, templates: record.templates, ref: entry.bundle_ref}
}

export async function runDrill(drill: Drill, env: TraceDatabase, opts: DrillOptions): Promise<DrillReport> {
  const now = opts.now ?? Date.now
  const phase = opts.onPhase ?? (() => {})
  const startedAt = new Date().toISOString()
  const t0 = now()
  const steps = opts.steps ?? drill.steps
  const labels = await readRequestLabels(drill.traffic)
  const golden = goldenIds(drill.golden, labels)

  const good = await loadBundle(drill.good)
  const bad = await loadBundle(drill.bad)
  promoteBundle(env, good, 'full', 'all', `drill ${drill.name}: last known good`)
  phase(`promoted ${good.ref} (last known good)`)
  const shipAt = now()
  promoteBundle(env, bad, 'full', 'all', `drill ${drill.name}: shipped`)
  phase(`shipped ${bad.ref}`)

  const shadow = (candidate: string, baseline: string, name: string) =>
    startShadow(
      {
        traffic: drill.traffic,
        candidate,
        baseline,
        fixtures: drill.fixtures,
        approver: drill.approver,
        model: opts.model ?? null,
        skills: drill.skill === null ? [] : [drill.skill],
        concurrency: opts.concurrency ?? 4,
        run_name: name,
      },
      env,
    )

  const detectRun = await shadow(drill.bad, drill.good, `drill ${drill.name}: shipped ${bad.ref}`)
  const shipped = collect(env, detectRun.run.id, 'candidate')
  const goodSide = collect(env, detectRun.run.id, 'baseline')
  const harmBefore = findHarm(shipped, drill.harm)
  const detectedAt = now()
  const first = harmBefore[0]
  phase(`detected ${harmBefore.length} harmful action(s) in run ${detectRun.run.id}`)

  const report: DrillReport = {
    scenario: drill.name,
    dir: drill.dir,
    passed: false,
    reasons: [],
    started_at: startedAt,
    finished_at: startedAt,
    bundles: {good: good.ref, bad: bad.ref, mitigated: null},
    steps: [],
    timings: {time_to_detect_ms: detectedAt - shipAt, time_to_mitigate_ms: null, total_ms: 0},
    detection: {
      run_id: detectRun.run.id,
      requests: shipped.length,
      harmful: harmBefore.length,
      first: first ? {request_id: first.request_id, line: first.line, position: shipped.findIndex((t) => t.request_id === first.request_id) + 1} : null,
      examples: harmBefore.slice(0, MAX_EXAMPLES),
      good_bundle_harmful: findHarm(goodSide, drill.harm).length,
      golden_on_good_bundle: evaluateGolden(goodSide, golden, drill.golden),
    },
    mitigation: null,
  }

  let verdict: DrillVerdict
  if (harmBefore.length === 0) {
    verdict = judgeDrill({harmBefore: 0, harmAfter: 0, golden: {total: golden.size, passed: 0, rate: 0}, minPassRate: drill.golden.min_pass_rate})
  } else {
    markBad(env, bad.hash, `drill ${drill.name}: ${harmBefore.length} harmful action(s) detected`)
    let current: Current = {manifest: bad.manifest, templates: bad.templates, ref: bad.ref}
    for (const step of steps) {
      current = await applyStep(env, current, step)
      report.steps.push({step: formatStep(step), result: `${current.manifest.name}@${current.manifest.version}`})
    }
    const mitigatedDir = path.join(opts.workDir, 'mitigated')
    const mitigated: Bundle = await writeBundle(
      current.manifest,
      current.templates,
      mitigatedDir,
      `Drill ${drill.name}: ${bad.ref} mitigated by ${steps.map(formatStep).join('; ')}.`,
    )
    report.bundles.mitigated = mitigated.ref
    phase(`mitigated bundle ${mitigated.ref} written to ${mitigatedDir}`)
    const replay = await shadow(mitigatedDir, drill.bad, `drill ${drill.name}: mitigated ${mitigated.ref}`)
    const after = collect(env, replay.run.id, 'candidate')
    const harmAfter = findHarm(after, drill.harm)
    const reference = new Map(goodSide.map((t) => [t.request_id, t]))
    const goldenAfter = evaluateGolden(after, golden, drill.golden, reference)
    report.timings.time_to_mitigate_ms = now() - detectedAt
    report.mitigation = {
      run_id: replay.run.id,
      bundle_dir: mitigatedDir,
      harmful: harmAfter.length,
      examples: harmAfter.slice(0, MAX_EXAMPLES),
      golden: goldenAfter,
    }
    verdict = judgeDrill({harmBefore: harmBefore.length, harmAfter: harmAfter.length, golden: goldenAfter, minPassRate: drill.golden.min_pass_rate})
  }
  report.passed = verdict.passed
  report.reasons = verdict.reasons
  report.timings.total_ms = now() - t0
  report.finished_at = new Date().toISOString()
  return report
}
