import {existsSync} from 'node:fs'
import path from 'node:path'
import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {StoreError, UnderstudyError} from '../../src/errors.js'
import {evaluateRequest} from '../../src/eval/evaluate.js'
import {appendCase, deriveExpectations, findRecord} from '../../src/eval/incident.js'
import {trafficFileFor} from '../../src/eval/join.js'
import {evalBundles} from '../../src/eval/run.js'
import {SUITES} from '../../src/eval/types.js'
import {openStore} from '../../src/store/sqlite.js'
import type {Expectations} from '../../src/traffic/schema.js'

export default class IncidentToTest extends BaseCommand {
  static override description =
    "Turn a request the candidate got wrong into a test case: its recorded traffic line plus an expect block derived from what went wrong (the harmful calls must not execute: by their arguments where a check names them, else the whole tool; tools production completed must), appended to the scenario's golden.jsonl. It never derives a decision, so the last known good bundle passes whether it denies the call, holds it for approval or never attempts it. A request already there is refused."

  static override examples = [
    '<%= config.bin %> incident to-test r20261125T1430 --request req-000007',
    '<%= config.bin %> incident to-test r20261125T1430 --request req-000038 --out tests/golden.jsonl --decision deny',
  ]

  static override args = {
    runId: Args.string({description: 'run id, or a unique prefix of one', required: true}),
  }

  static override flags = {
    db: dbFlag,
    request: Flags.string({description: 'request id of the incident', required: true}),
    out: Flags.string({description: 'golden file to append to (default: golden.jsonl beside the traffic file)'}),
    traffic: Flags.string({description: "traffic file the run replayed (default: the run's own)"}),
    policy: Flags.string({description: 'bundle whose RBAC and deny rules say what was disallowed (default: the run\'s baseline)'}),
    forbid: Flags.string({description: 'also forbid this tool (repeatable)', multiple: true}),
    'expect-tool': Flags.string({description: 'also expect this tool to execute (repeatable)', multiple: true}),
    decision: Flags.string({description: 'the policy decision the request should get', options: ['allow', 'deny', 'require_approval']}),
  }

  async run(): Promise<{file: string; line: number; request_id: string; expect: Expectations}> {
    const {args, flags} = await this.parse(IncidentToTest)
    if (!existsSync(flags.db)) throw new StoreError(`${flags.db}: no trace store there, so no run ${args.runId}`)
    const store = openStore(flags.db, {readonly: true})
    try {
      const run = store.getRun(args.runId)
      if (run === undefined) throw new StoreError(`${flags.db}: no run matches "${args.runId}"`)
      const traces = [...store.iterateTraces(run.id, {side: 'candidate', requestId: flags.request})]
      if (traces.length === 0) throw new UnderstudyError(`run ${run.id} has no candidate trace for request ${flags.request}`)
      const trafficFile = trafficFileFor(run, flags.traffic)
      if (trafficFile === null) throw new UnderstudyError(`${flags.traffic ?? run.traffic_file}: traffic file of run ${run.id} not found (pass --traffic)`)
      const {record} = await findRecord(trafficFile, flags.request)
      const bundles = await evalBundles(run, flags.policy)
      const verdicts = traces.filter((t) => t.status !== 'skipped').flatMap((t) => evaluateRequest(record, t, {suites: SUITES, ...bundles.options}))
      const expect = deriveExpectations(record, traces, verdicts, {
        ...(flags.forbid ? {forbid: flags.forbid} : {}),
        ...(flags['expect-tool'] ? {tools: flags['expect-tool']} : {}),
        ...(flags.decision ? {decision: flags.decision as 'allow' | 'deny' | 'require_approval'} : {}),
      })
      if (Object.keys(expect).length === 0) {
        throw new UnderstudyError(`request ${flags.request}: nothing went wrong that an expect block can capture; say what should happen with --forbid, --expect-tool or --decision`)
      }
      const out = flags.out ?? path.join(path.dirname(trafficFile), 'golden.jsonl')
      const written = await appendCase(out, {...record, labels: {...record.labels, incident_run: run.id}, expect})
      this.out(`added ${flags.request} to ${written.file} (line ${written.line}) expecting ${JSON.stringify(expect)}`)
      return {...written, request_id: flags.request, expect}
    } finally {
      store.close()
    }
  }
}
