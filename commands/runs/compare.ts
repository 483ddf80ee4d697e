import {Args} from '@oclif/core'
import {RunCommand} from '../../src/cli/run-command.js'
import {compareRuns, type RunComparison} from '../../src/runs/compare-runs.js'
import {comparisonLines} from '../../src/report/compare-runs.js'
import {findRun} from '../../src/runs/open.js'

export default class RunsCompare extends RunCommand {
  static override description =
    'Compare two runs of the same traffic request by request: which requests changed class or cause between them, with counts per change. Runs of different traffic are refused.'

  static override examples = ['<%= config.bin %> runs compare r20261125T1430 r20261126T0900', '<%= config.bin %> runs compare r20261125T1430 r20261126T0900 --json']

  static override args = {
    a: Args.string({description: 'the first run (id or unique prefix)', required: true}),
    b: Args.string({description: 'the second run (id or unique prefix)', required: true}),
  }

  async run(): Promise<RunComparison> {
    const {args, flags} = await this.parse(RunsCompare)
    const {store, run: a} = this.openRun(flags.db, args.a)
    const b = findRun(store, args.b, flags.db)
    const c = await compareRuns(store, a, b)
    for (const line of comparisonLines(c)) this.out(line)
    return c
  }
}
