import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {decideApprovals, type DecideResult} from '../../src/shadow/approvals.js'

export default class ApprovalsDecide extends RunCommand {
  static override summary = 'Approve or reject calls a run held for approval.'
  static override description =
    'Records who decided, when and why, in the trace store (append-only: a later decision on the same call supersedes an earlier one). Refs are as `approvals list` prints them (<request-id>#<seq>); an unknown ref is an error and nothing is recorded. `approvals apply` then carries the decisions out in a new run.'

  static override examples = [
    '<%= config.bin %> approvals decide r20261125T1430 --approve req-0007#1 --reason "verified by phone"',
    '<%= config.bin %> approvals decide r20261125T1430 --reject req-0009#0 req-0011#2 --by alice',
    '<%= config.bin %> approvals decide r20261125T1430 --approve-all',
    '<%= config.bin %> approvals decide r20261125T1430 --file decisions.yaml',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    approve: Flags.string({description: 'refs to approve', multiple: true}),
    reject: Flags.string({description: 'refs to reject', multiple: true}),
    'approve-all': Flags.boolean({description: 'approve every undecided held call'}),
    'reject-all': Flags.boolean({description: 'reject every undecided held call'}),
    file: Flags.string({description: 'decisions file (YAML/JSON): decisions: [{ref, decision: approve|reject, reason?}], optional by'}),
    by: Flags.string({description: 'who decides (default: the OS user)'}),
    reason: Flags.string({description: 'why (recorded with each decision)'}),
  }

  async run(): Promise<DecideResult> {
    const {args, flags} = await this.parse(ApprovalsDecide)
    const {store, run} = this.openRun(flags.db, args.runId, {readonly: false})
    const result = decideApprovals(store, run, {
      approve: flags.approve,
      reject: flags.reject,
      approveAll: flags['approve-all'],
      rejectAll: flags['reject-all'],
      file: flags.file,
      by: flags.by,
      reason: flags.reason,
    })
    for (const d of result.decided) this.out(`${d.ref}  ${d.tool}: ${d.decision} by ${d.decided_by}${d.why ? ` (${d.why})` : ''}`)
    this.out(`${result.decided.length} decision(s) recorded on run ${run.id}; next: understudy approvals apply ${run.id}`)
    return result
  }
}
