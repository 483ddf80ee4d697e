import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {parseInstant, type AuditReport} from '../../src/incident/audit.js'
import {auditRun} from '../../src/incident/audit-run.js'
import {renderAudit} from '../../src/incident/render.js'
import type {TraceSide} from '../../src/trace/schema.js'

export default class IncidentAudit extends RunCommand {
  static override description =
    'Every executed action of a run in a time window (by request timestamp), grouped by tenant and tool, with the policy decisions taken about each.'

  static override examples = [
    '<%= config.bin %> incident audit r20261125T1430 --from 2025-07-01T00:00:00Z --to 2025-07-01T06:00:00Z',
    '<%= config.bin %> incident audit r20261125T1430 --side baseline --json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    from: Flags.string({description: 'window start (ISO 8601), inclusive'}),
    to: Flags.string({description: 'window end (ISO 8601), inclusive'}),
    side: Flags.string({description: 'which side of the run', options: ['recorded', 'baseline', 'candidate'], default: 'candidate'}),
    traffic: Flags.string({description: "traffic file with the request timestamps (default: the run's own)"}),
  }

  async run(): Promise<AuditReport & {run_id: string; side: string}> {
    const {args, flags} = await this.parse(IncidentAudit)
    const window = {from_ms: parseInstant('from', flags.from), to_ms: parseInstant('to', flags.to)}
    const {store, run} = this.openRun(flags.db, args.runId)
    const report = await auditRun(store, run, {side: flags.side as TraceSide, window, traffic: flags.traffic})
    for (const line of renderAudit(run.id, report.side, report)) this.out(line)
    return report
  }
}
