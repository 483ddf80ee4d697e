import {Args, Flags} from '@oclif/core'
import {checkBudgets, type BudgetCheckReport} from '../../src/budget/check.js'
import {renderCheck} from '../../src/budget/render.js'
import {runManifest} from '../../src/budget/run-bundle.js'
import {openRun} from '../../src/budget/run-store.js'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {ValidationError} from '../../src/errors.js'
import type {TraceSide} from '../../src/trace/schema.js'

export default class BudgetCheck extends BaseCommand {
  static override description =
    "Per tenant, which requests of a run hit each budget or came near it, and the spread of steps, tool calls and tokens per request."

  static override examples = [
    '<%= config.bin %> budget check r20261125T1430',
    '<%= config.bin %> budget check r20261125T1430 --side baseline --near 0.9 --json',
  ]

  static override args = {runId: Args.string({description: 'run id, or a unique prefix of one', required: true})}

  static override flags = {
    db: dbFlag,
    side: Flags.string({description: 'which side of the run to check', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    near: Flags.string({description: 'share of a limit (0-1) from which a request counts as near it', default: '0.8'}),
  }

  async run(): Promise<BudgetCheckReport & {run_id: string; side: string}> {
    const {args, flags} = await this.parse(BudgetCheck)
    const near = Number(flags.near)
    if (!Number.isFinite(near) || near <= 0 || near > 1) throw new ValidationError([`--near: expected a number above 0 and at most 1, got "${flags.near}"`])
    const {store, run} = openRun(flags.db, args.runId)
    try {
      const side = flags.side as TraceSide
      const manifest = runManifest(store, run, side === 'baseline' && run.baseline_hash !== null ? 'baseline' : 'candidate')
      const report = checkBudgets(store.iterateTraces(run.id, {side, repeat: 0}), manifest, {near})
      for (const line of renderCheck(run.id, side, report)) this.out(line)
      return {run_id: run.id, side, ...report}
    } finally {
      store.close()
    }
  }
}
