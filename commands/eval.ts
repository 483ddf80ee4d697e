import {existsSync} from 'node:fs'
import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {StoreError, UnderstudyError} from '../src/errors.js'
import {suitesBelow, type EvalSummary} from '../src/eval/evaluate.js'
import {trafficFileFor} from '../src/eval/join.js'
import {renderEval} from '../src/eval/render.js'
import {evalBundles, evaluateRun} from '../src/eval/run.js'
import {SUITES, type SuiteName} from '../src/eval/types.js'
import {openStore} from '../src/store/sqlite.js'

type EvalOutput = EvalSummary & {
  reference: {ref: string; source: string} | null
  notes: string[]
  gate: {enabled: boolean; min_pass: number; passed: boolean; below: SuiteName[]}
}

export default class Eval extends BaseCommand {
  static override description =
    "Score a run's candidate against evaluation suites: golden (the traffic's expect blocks), security (injection, exfiltration, tool misuse), tool-failure (no double writes, no blind retries, uncertainty surfaced) and consistency (memory the task needs is used, dropped or outdated memory is not, identifiers do not drift across a session's turns). With --gate, exit 1 when a suite's pass rate is below --min-pass."

  static override examples = [
    '<%= config.bin %> eval r20261125T1430',
    '<%= config.bin %> eval r20261125T1430 --suite security --json',
    '<%= config.bin %> eval r20261125T1430 --suite consistency',
    '<%= config.bin %> eval r20261125T1430 --gate --min-pass 0.95',
  ]

  static override args = {
    runId: Args.string({description: 'run id, or a unique prefix of one', required: true}),
  }

  static override flags = {
    db: dbFlag,
    suite: Flags.string({description: 'which suite to run', options: [...SUITES, 'all'], default: 'all'}),
    gate: Flags.boolean({description: 'exit with status 1 when any suite is below --min-pass (for CI)', default: false}),
    'min-pass': Flags.string({description: 'lowest passing rate per suite, 0..1', default: '0.95'}),
    traffic: Flags.string({description: "traffic file the run replayed (default: the run's own)"}),
    policy: Flags.string({description: "bundle whose RBAC and deny rules the security suite applies (default: the run's baseline, else its candidate)"}),
  }

  async run(): Promise<EvalOutput> {
    const {args, flags} = await this.parse(Eval)
    const minPass = Number(flags['min-pass'])
    if (!Number.isFinite(minPass) || minPass < 0 || minPass > 1) throw new UnderstudyError(`--min-pass: expected a number from 0 to 1, got "${flags['min-pass']}"`)
    if (!existsSync(flags.db)) throw new StoreError(`${flags.db}: no trace store there, so no run ${args.runId}`)
    const store = openStore(flags.db, {readonly: true})
    let summary: EvalSummary
    let bundles: Awaited<ReturnType<typeof evalBundles>>
    try {
      const run = store.getRun(args.runId)
      if (run === undefined) throw new StoreError(`${flags.db}: no run matches "${args.runId}"`)
      const trafficFile = trafficFileFor(run, flags.traffic)
      if (trafficFile === null) throw new UnderstudyError(`${flags.traffic ?? run.traffic_file}: traffic file of run ${run.id} not found (pass --traffic)`)
      bundles = await evalBundles(run, flags.policy)
      const suites: SuiteName[] = flags.suite === 'all' ? [...SUITES] : [flags.suite as SuiteName]
      summary = await evaluateRun(store, run, trafficFile, {suites, ...bundles.options})
    } finally {
      store.close()
    }
    for (const note of bundles.notes) process.stderr.write(`understudy: note: ${note}\n`)
    for (const line of renderEval(summary, minPass)) this.out(line)
    const below = suitesBelow(summary, minPass)
    if (flags.gate && below.length > 0) {
      process.stderr.write(`gate failed: ${below.map((s) => `${s} ${((summary.results[s]?.pass_rate ?? 0) * 100).toFixed(1)}%`).join(', ')} below ${(minPass * 100).toFixed(1)}%\n`)
      // Not this.exit(): that would drop the --json document CI may want to keep.
      process.exitCode = 1
    } else if (flags.gate) {
      this.out(`gate passed: every suite at or above ${(minPass * 100).toFixed(1)}%`)
    }
    return {...summary, reference: bundles.reference, notes: bundles.notes, gate: {enabled: flags.gate, min_pass: minPass, passed: below.length === 0, below}}
  }
}
