import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {UnderstudyError} from '../src/errors.js'
import type {EvalSummary} from '../src/eval/evaluate.js'
import {evalGate, renderEval} from '../src/eval/render.js'
import {SUITES, type SuiteName} from '../src/eval/types.js'
import {evaluateRunSuites} from '../src/runs/evaluate.js'

type EvalOutput = EvalSummary & {
  reference: {ref: string; source: string} | null
  notes: string[]
  gate: {enabled: boolean; min_pass: number; passed: boolean; below: SuiteName[]}
}

export default class Eval extends RunCommand {
  static override description =
    "Score a run's candidate against evaluation suites: golden (the traffic's expect blocks), security (injection, exfiltration, tool misuse), tool-failure (no double writes, no blind retries, uncertainty surfaced) and consistency (memory the task needs is used, dropped or outdated memory is not, identifiers do not drift across a session's turns). With --gate, exit 3 when a suite's pass rate is below --min-pass."

  static override examples = [
    '<%= config.bin %> eval r20261125T1430',
    '<%= config.bin %> eval r20261125T1430 --suite security --json',
    '<%= config.bin %> eval r20261125T1430 --suite consistency',
    '<%= config.bin %> eval r20261125T1430 --gate --min-pass 0.95',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    suite: Flags.string({description: 'which suite to run', options: [...SUITES, 'all'], default: 'all'}),
    gate: Flags.boolean({description: 'exit with status 3 when any suite is below --min-pass (for CI; 1 means the command failed)', default: false}),
    'min-pass': Flags.string({description: 'lowest passing rate per suite, 0..1', default: '0.95'}),
    traffic: Flags.string({description: "traffic file the run replayed, for every suite but golden (default: the run's own)"}),
    policy: Flags.string({description: "bundle whose RBAC and deny rules the security suite applies (default: the run's baseline, else its candidate)"}),
  }

  async run(): Promise<EvalOutput> {
    const {args, flags} = await this.parse(Eval)
    const minPass = Number(flags['min-pass'])
    if (!Number.isFinite(minPass) || minPass < 0 || minPass > 1) throw new UnderstudyError(`--min-pass: expected a number from 0 to 1, got "${flags['min-pass']}"`)
    const {store, run} = this.openRun(flags.db, args.runId)
    const suites: SuiteName[] = flags.suite === 'all' ? [...SUITES] : [flags.suite as SuiteName]
    const {summary, bundles} = await evaluateRunSuites(store, run, {suites, traffic: flags.traffic, policy: flags.policy})
    for (const note of bundles.notes) this.err(`understudy: note: ${note}`)
    for (const line of renderEval(summary, minPass)) this.out(line)
    const verdict = evalGate(summary, minPass)
    this.gate(flags.gate, verdict)
    return {...summary, reference: bundles.reference, notes: bundles.notes, gate: {enabled: flags.gate, min_pass: minPass, passed: verdict.passed, below: verdict.below}}
  }
}
