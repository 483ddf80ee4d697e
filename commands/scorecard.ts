import {Flags} from '@oclif/core'
import {acceptedFlag} from '../src/cli/base-command.js'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {acceptedLines} from '../src/report/accepted.js'
import {resolveAccepted} from '../src/runs/accepted-file.js'
import type {RunSummary} from '../src/runs/summary.js'
import {runSummary} from '../src/runs/run-summary.js'
import {renderScorecard, scorecardGate} from '../src/scorecard/render.js'
import {scorecard, type Scorecard} from '../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../src/scorecard/thresholds.js'
import {rollbackFrequency} from '../src/rollout/history.js'

export default class ScorecardCommand extends RunCommand {
  static override description =
    'Rate a run green / amber / red on safety, reliability, cost and quality; with --gate, exit 3 when any dimension is red (1 is an error). Causes in the accepted-differences file are counted apart, not judged.'

  static override examples = [
    '<%= config.bin %> scorecard r20261125T1430',
    '<%= config.bin %> scorecard r20261125T1430 --gate --thresholds rollout.yaml',
    '<%= config.bin %> scorecard r20261125T1430 --json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    gate: Flags.boolean({description: 'exit with status 3 when any dimension is red (for CI; 1 means the command failed)', default: false}),
    thresholds: Flags.string({description: 'thresholds file (YAML or JSON) overriding any of the defaults'}),
    accepted: acceptedFlag,
  }

  async run(): Promise<Scorecard & {gate: {enabled: boolean; passed: boolean}; accepted: (RunSummary['accepted'] & {file: string; requests: number}) | null}> {
    const {args, flags} = await this.parse(ScorecardCommand)
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const accepted = resolveAccepted(flags.accepted)
    const {store, run} = this.openRun(flags.db, args.runId)
    const {summary, golden} = await runSummary(store, run, {accepted: accepted?.entries})
    const card = scorecard(summary, thresholds, golden, rollbackFrequency(store.listBundleHistory()))
    this.write(renderScorecard(card, {color: this.colour()}), {painted: true})
    for (const line of acceptedLines(summary, accepted?.file ?? null)) this.out(line)
    const verdict = scorecardGate(card)
    this.gate(flags.gate, verdict)
    return {
      ...card,
      gate: {enabled: flags.gate, passed: verdict.passed},
      accepted: accepted === null ? null : {file: accepted.file, requests: summary.requests.accepted, ...summary.accepted},
    }
  }
}
