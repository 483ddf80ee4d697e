import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {applyApprovals} from '../../src/shadow/approvals.js'
import {createReporter} from '../../src/shadow/reporter.js'
import type {ShadowResult} from '../../src/shadow/run.js'
import {renderShadowSummary, shadowSummary, withResumeHint, type ShadowSummary} from '../../src/shadow/summary.js'

export default class ApprovalsApply extends RunCommand {
  static override summary = 'Carry out the decisions on a run\'s held calls in a new run.'
  static override description =
    'A new run in which each request with a decided call is replayed with the decisions (approved: the call runs against the mock tools and the model goes on; rejected: it is refused APPROVAL_REJECTED and the model goes on); every other trace is copied from the decided run as it was. Each decided call records the decision and who made it. Prints the same summary as `shadow` (the same document with --json, the new run id in it); an interrupted apply is finished with `shadow --resume`.'

  static override examples = ['<%= config.bin %> approvals apply r20261125T1430', '<%= config.bin %> approvals apply r20261125T1430 --json']

  static override args = {runId: runIdArg}

  async run(): Promise<ShadowSummary> {
    const {args, flags} = await this.parse(ApprovalsApply)
    const store = this.openStore(flags.db)
    const reporter = createReporter(this.jsonEnabled() ? 'silent' : process.stderr.isTTY ? 'tty' : 'plain')
    let result: ShadowResult
    try {
      result = await applyApprovals(store, args.runId, {
        onRunCreated: (run) => reporter.start(run.id, run.candidate_ref, run.baseline_ref),
        onProgress: (p) => reporter.update(p),
        onNotice: (notice) => {
          if (!this.jsonEnabled()) this.err(`note: ${notice}`)
        },
      })
    } catch (e) {
      throw withResumeHint(e, flags.db)
    } finally {
      reporter.finish()
    }
    const summary = await shadowSummary(store, result, flags.db)
    this.write(renderShadowSummary(summary))
    return summary
  }
}
