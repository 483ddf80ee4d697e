import {Flags} from '@oclif/core'
import type {QuotaReport} from '../../src/budget/quotas.js'
import {renderQuotas} from '../../src/budget/render.js'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import type {TraceSide} from '../../src/trace/schema.js'
import {runTenantQuotas, type SideReport} from '../../src/runs/budget.js'

export default class BudgetTenants extends RunCommand {
  static override description =
    "Per-tenant quotas (tenant_quotas) over a run on the recorded timeline: each tenant's peak requests, tool calls and tokens per minute, and the tenants that flood."

  static override examples = ['<%= config.bin %> budget tenants r20261125T1430', '<%= config.bin %> budget tenants r20261125T1430 --traffic traffic.jsonl --json']

  static override args = {runId: runIdArg}

  static override flags = {
    side: Flags.string({description: 'which side of the run to evaluate', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    traffic: Flags.string({description: "traffic file with the request timestamps (default: the run's own)"}),
  }

  async run(): Promise<SideReport<QuotaReport>> {
    const {args, flags} = await this.parse(BudgetTenants)
    const {store, run} = this.openRun(flags.db, args.runId)
    const report = await runTenantQuotas(store, run, {side: flags.side as TraceSide, traffic: flags.traffic})
    for (const line of renderQuotas(run.id, report)) this.out(line)
    return report
  }
}
