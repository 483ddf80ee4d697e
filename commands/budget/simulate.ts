import {Flags} from '@oclif/core'
import {renderSimulation} from '../../src/budget/render.js'
import type {BudgetSimulation} from '../../src/budget/simulate.js'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import type {TraceSide} from '../../src/trace/schema.js'
import {simulateRunBudgets, type SideReport} from '../../src/runs/budget.js'

const limitFlag = (what: string) => Flags.integer({description: `${what} (default: the run's bundle's value)`, min: 0})

export default class BudgetSimulate extends RunCommand {
  static override description =
    "What-if for budgets over a run's stored traces, without re-running the model: which requests new limits would cut, where, and which executed actions would not have happened."

  static override examples = [
    '<%= config.bin %> budget simulate r20261125T1430 --max-tool-calls 3',
    '<%= config.bin %> budget simulate r20261125T1430 --max-steps 4 --max-total-tokens 4000 --json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    side: Flags.string({description: 'which side of the run to replay', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    'max-steps': limitFlag('model steps per request'),
    'max-tool-calls': limitFlag('tool calls per request'),
    'max-total-tokens': limitFlag('tokens per request'),
    'max-retries': limitFlag('retries per request'),
  }

  async run(): Promise<SideReport<BudgetSimulation>> {
    const {args, flags} = await this.parse(BudgetSimulate)
    const {store, run} = this.openRun(flags.db, args.runId)
    const sim = simulateRunBudgets(store, run, {
      side: flags.side as TraceSide,
      limits: {
        max_steps: flags['max-steps'],
        max_tool_calls: flags['max-tool-calls'],
        max_total_tokens: flags['max-total-tokens'],
        max_retries: flags['max-retries'],
      },
    })
    for (const line of renderSimulation(run.id, sim)) this.out(line)
    return sim
  }
}
