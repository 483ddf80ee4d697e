import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {runSummary} from '../src/runs/run-summary.js'
import {renderScorecard, scorecardGate} from '../src/scorecard/render.js'
import {scorecard, type Scorecard} from '../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../src/scorecard/thresholds.js'
import {rollbackFrequency} from '../src/rollout/history.js'

export default class ScorecardCommand extends RunCommand {
  static override description =
    'Rate a run green / amber / red on safety, reliability, cost and quality; with --gate, exit 3 when any dimension is red (1 is an error).'

  static override examples = [
    '<%= config.bin %> scorecard r20261125T1430',
    '<%= config.bin %> scorecard r20261125T1430 --gate --thresholds rollout.yaml',
    '<%= config.bin %> scorecard r20261125T1430 --json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    gate: Flags.boolean({description: 'exit with status 3 when any dimension is red (for CI; 1 means the command failed)', default: false}),
    thresholds: Flags.string({description: 'thresholds file (YAML or JSON) overriding any of the defaults'}),
  }

  async run(): Promise<Scorecard & {gate: {enabled: boolean; passed: boolean}}> {
    const {args, flags} = await this.parse(ScorecardCommand)
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const {store, run} = this.openRun(flags.db, args.runId)
    const {summary, golden} = await runSummary(store, run)
    const card = scorecard(summary, thresholds, golden, rollbackFrequency(store.listBundleHistory()))
    this.write(renderScorecard(card, {color: this.colour()}), {painted: true})
    const verdict = scorecardGate(card)
    this.gate(flags.gate, verdict)
    return {...card, gate: {enabled: flags.gate, passed: verdict.passed}}
  }
}
