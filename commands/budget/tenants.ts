import {Args, Flags} from '@oclif/core'
import {evaluateTenantQuotas, quotaEvents, type QuotaReport} from '../../src/budget/quotas.js'
import {renderQuotas} from '../../src/budget/render.js'
import {runManifest} from '../../src/budget/run-bundle.js'
import {openRun} from '../../src/budget/run-store.js'
import {readRequestTimes, runTrafficFile} from '../../src/budget/timeline.js'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import type {TraceSide} from '../../src/trace/schema.js'

export default class BudgetTenants extends BaseCommand {
  static override description =
    "Per-tenant quotas (tenant_quotas) over a run on the recorded timeline: each tenant's peak requests, tool calls and tokens per minute, and the tenants that flood."

  static override examples = ['<%= config.bin %> budget tenants r20261125T1430', '<%= config.bin %> budget tenants r20261125T1430 --traffic traffic.jsonl --json']

  static override args = {runId: Args.string({description: 'run id, or a unique prefix of one', required: true})}

  static override flags = {
    db: dbFlag,
    side: Flags.string({description: 'which side of the run to evaluate', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    traffic: Flags.string({description: "traffic file with the request timestamps (default: the run's own)"}),
  }

  async run(): Promise<QuotaReport & {run_id: string; side: string}> {
    const {args, flags} = await this.parse(BudgetTenants)
    const {store, run} = openRun(flags.db, args.runId)
    try {
      const side = flags.side as TraceSide
      const manifest = runManifest(store, run, side === 'baseline' && run.baseline_hash !== null ? 'baseline' : 'candidate')
      const times = await readRequestTimes(runTrafficFile(run, flags.traffic))
      const {events, untimed} = quotaEvents(store.iterateTraces(run.id, {side, repeat: 0}), times)
      const report = evaluateTenantQuotas(events, manifest.tenant_quotas, untimed)
      for (const line of renderQuotas(run.id, report)) this.out(line)
      return {run_id: run.id, side, ...report}
    } finally {
      store.close()
    }
  }
}
