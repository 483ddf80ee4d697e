import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {heldActions, type HeldAction} from '../../src/runs/approvals.js'
import {canonicalJson} from '../../src/util/canonical.js'

export default class ApprovalsList extends RunCommand {
  static override summary = 'List the calls a run held for approval.'
  static override description =
    'Every candidate tool call the run left waiting for an approver: its ref (<request-id>#<seq>, what `approvals decide` takes), the tool, its arguments as stored (sensitive values redacted), the rule that held it and why, and the decision in force if someone decided.'

  static override examples = ['<%= config.bin %> approvals list r20261125T143012-3fa9c1', '<%= config.bin %> approvals list r20261125T1430 --json']

  static override args = {runId: runIdArg}

  async run(): Promise<{run: string; held: HeldAction[]}> {
    const {args, flags} = await this.parse(ApprovalsList)
    const {store, run} = this.openRun(flags.db, args.runId)
    const held = heldActions(store, run)
    if (held.length === 0) this.out(`run ${run.id} holds no call for approval`)
    else {
      const open = held.filter((h) => h.decision === null).length
      this.out(`run ${run.id}: ${held.length} held call(s), ${open} undecided`)
      for (const h of held) {
        const decided = h.decision === null ? 'undecided' : `${h.decision} by ${h.decided_by}`
        this.out(`${h.ref}  ${h.tool} ${canonicalJson(h.args)}  rule ${h.rule ?? '-'}: ${h.reason}  [${decided}]`)
      }
    }
    return {run: run.id, held}
  }
}
