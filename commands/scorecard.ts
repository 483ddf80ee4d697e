import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {colourWanted} from '../src/cli/colour.js'
import {renderScorecard} from '../src/scorecard/render.js'
import {scorecardForRun} from '../src/scorecard/for-run.js'
import type {Scorecard} from '../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../src/scorecard/thresholds.js'
import {openStore} from '../src/store/sqlite.js'

export default class ScorecardCommand extends BaseCommand {
  static override description =
    'Rate a run green / amber / red on safety, reliability, cost and quality; with --gate, exit 1 when any dimension is red.'

  static override examples = [
    '<%= config.bin %> scorecard r20261125T1430',
    '<%= config.bin %> scorecard r20261125T1430 --gate --thresholds rollout.yaml',
    '<%= config.bin %> scorecard r20261125T1430 --json',
  ]

  static override args = {
    runId: Args.string({description: 'run id, or a unique prefix of one', required: true}),
  }

  static override flags = {
    db: dbFlag,
    gate: Flags.boolean({description: 'exit with status 1 when any dimension is red (for CI)', default: false}),
    thresholds: Flags.string({description: 'thresholds file (YAML or JSON) overriding any of the defaults'}),
  }

  async run(): Promise<Scorecard & {gate: {enabled: boolean; passed: boolean}}> {
    const {args, flags} = await this.parse(ScorecardCommand)
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const store = openStore(flags.db, {readonly: true})
    let card: Scorecard
    try {
      card = (await scorecardForRun(store, args.runId, thresholds)).card
    } finally {
      store.close()
    }
    if (!this.jsonEnabled()) process.stdout.write(renderScorecard(card, {color: colourWanted(process.stdout)}))
    const passed = card.red.length === 0
    if (flags.gate && !passed) {
      for (const d of card.dimensions.filter((x) => x.colour === 'red')) process.stderr.write(`gate: ${d.reason}\n`)
      process.stderr.write(`gate failed: ${card.red.join(', ')} red\n`)
      // Not this.exit(): that would drop the --json document CI may want to keep.
      process.exitCode = 1
    } else if (flags.gate) {
      this.out('gate passed: no dimension is red')
    }
    return {...card, gate: {enabled: flags.gate, passed}}
  }
}
