import {Flags} from '@oclif/core'
import type {BudgetCheckReport} from '../../src/budget/check.js'
import {renderCheck} from '../../src/budget/render.js'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {ValidationError} from '../../src/errors.js'
import type {TraceSide} from '../../src/trace/schema.js'
import {checkRunBudgets, type SideReport} from '../../src/runs/budget.js'

export default class BudgetCheck extends RunCommand {
  static override description =
    "Per tenant, which requests of a run hit each budget or came near it, and the spread of steps, tool calls and tokens per request."

  static override examples = [
    '<%= config.bin %> budget check r20261125T1430',
    '<%= config.bin %> budget check r20261125T1430 --side baseline --near 0.9 --json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    side: Flags.string({description: 'which side of the run to check', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    near: Flags.string({description: 'share of a limit (0-1) from which a request counts as near it', default: '0.8'}),
  }

  async run(): Promise<SideReport<BudgetCheckReport>> {
    const {args, flags} = await this.parse(BudgetCheck)
    const near = Number(flags.near)
    if (!Number.isFinite(near) || near <= 0 || near > 1) throw new ValidationError([`--near: expected a number above 0 and at most 1, got "${flags.near}"`])
    const {store, run} = this.openRun(flags.db, args.runId)
    const report = checkRunBudgets(store, run, {side: flags.side as TraceSide, near})
    for (const line of renderCheck(run.id, report.side, report)) this.out(line)
    return report
  }
}
