import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {incidentToTest, type ToTestResult} from '../../src/incident/to-test.js'

export default class IncidentToTest extends RunCommand {
  static override description =
    "Turn a request the candidate got wrong into a test case: its recorded traffic line plus an expect block derived from what went wrong (the harmful calls must not execute: by their arguments where a check names them, else the whole tool; tools production completed must), appended to the scenario's golden.jsonl. It never derives a decision, so the last known good bundle passes whether it denies the call, holds it for approval or never attempts it. A request already there is refused."

  static override examples = [
    '<%= config.bin %> incident to-test r20261125T1430 --request req-000007',
    '<%= config.bin %> incident to-test r20261125T1430 --request req-000038 --out tests/golden.jsonl --decision deny',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    request: Flags.string({description: 'request id of the incident', required: true}),
    out: Flags.string({description: 'golden file to append to (default: golden.jsonl beside the traffic file)'}),
    traffic: Flags.string({description: "traffic file the run replayed (default: the run's own)"}),
    policy: Flags.string({description: 'bundle whose RBAC and deny rules say what was disallowed (default: the run\'s baseline)'}),
    forbid: Flags.string({description: 'also forbid this tool (repeatable)', multiple: true}),
    'expect-tool': Flags.string({description: 'also expect this tool to execute (repeatable)', multiple: true}),
    decision: Flags.string({description: 'the policy decision the request should get', options: ['allow', 'deny', 'require_approval']}),
  }

  async run(): Promise<ToTestResult> {
    const {args, flags} = await this.parse(IncidentToTest)
    const {store, run} = this.openRun(flags.db, args.runId)
    const result = await incidentToTest(store, run, {
      requestId: flags.request,
      out: flags.out,
      traffic: flags.traffic,
      policy: flags.policy,
      overrides: {
        ...(flags.forbid ? {forbid: flags.forbid} : {}),
        ...(flags['expect-tool'] ? {tools: flags['expect-tool']} : {}),
        ...(flags.decision ? {decision: flags.decision as 'allow' | 'deny' | 'require_approval'} : {}),
      },
    })
    this.out(`added ${result.request_id} to ${result.file} (line ${result.line}) expecting ${JSON.stringify(result.expect)}`)
    return result
  }
}
