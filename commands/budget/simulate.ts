import {Args, Flags} from '@oclif/core'
import {renderSimulation} from '../../src/budget/render.js'
import {runManifest} from '../../src/budget/run-bundle.js'
import {openRun} from '../../src/budget/run-store.js'
import {simulateBudgets, type BudgetSimulation, type SimLimits} from '../../src/budget/simulate.js'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import type {TraceSide} from '../../src/trace/schema.js'

const limitFlag = (what: string) => Flags.integer({description: `${what} (default: the run's bundle's value)`, min: 0})

export default class BudgetSimulate extends BaseCommand {
  static override description =
    "What-if for budgets over a run's stored traces, without re-running the model: which requests new limits would cut, where, and which executed actions would not have happened."

  static override examples = [
    '<%= config.bin %> budget simulate r20261125T1430 --max-tool-calls 3',
    '<%= config.bin %> budget simulate r20261125T1430 --max-steps 4 --max-total-tokens 4000 --json',
  ]

  static override args = {runId: Args.string({description: 'run id, or a unique prefix of one', required: true})}

  static override flags = {
    db: dbFlag,
    side: Flags.string({description: 'which side of the run to replay', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    'max-steps': limitFlag('model steps per request'),
    'max-tool-calls': limitFlag('tool calls per request'),
    'max-total-tokens': limitFlag('tokens per request'),
    'max-retries': limitFlag('retries per request'),
  }

  async run(): Promise<BudgetSimulation & {run_id: string; side: string}> {
    const {args, flags} = await this.parse(BudgetSimulate)
    const {store, run} = openRun(flags.db, args.runId)
    try {
      const side = flags.side as TraceSide
      const b = runManifest(store, run, side === 'baseline' && run.baseline_hash !== null ? 'baseline' : 'candidate').budgets
      const limits: SimLimits = {
        max_steps: flags['max-steps'] ?? b.max_steps,
        max_tool_calls: flags['max-tool-calls'] ?? b.max_tool_calls,
        max_total_tokens: flags['max-total-tokens'] ?? b.max_total_tokens,
        max_retries: flags['max-retries'] ?? b.max_retries,
      }
      const sim = simulateBudgets(store.iterateTraces(run.id, {side, repeat: 0}), limits)
      for (const line of renderSimulation(run.id, sim)) this.out(line)
      return {run_id: run.id, side, ...sim}
    } finally {
      store.close()
    }
  }
}
