import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {exportRun, type ExportRunResult} from '../../src/otel/export-run.js'
import {runTrafficFile} from '../../src/runs/traffic-join.js'

export default class TraceExport extends RunCommand {
  static override description =
    "Export a run's traces as OpenTelemetry OTLP/JSON (GenAI semantic conventions): one trace per request, an invoke_agent span with chat and execute_tool children. Ids and times are deterministic; everything exported is already redacted."

  static override examples = [
    '<%= config.bin %> trace export r20261125T1430 --otlp out.json',
    '<%= config.bin %> trace export r20261125T1430 --otlp baseline.json --side baseline --no-input',
    '<%= config.bin %> trace export r20261125T1430 --otlp one.json --request req-000042',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    otlp: Flags.string({description: 'write OTLP/JSON (ExportTraceServiceRequest) to this file', required: true}),
    side: Flags.string({description: 'which side of the run to export', options: ['candidate', 'baseline', 'recorded'], default: 'candidate'}),
    request: Flags.string({description: 'export only this request id'}),
    traffic: Flags.string({description: "traffic file for request timestamps and input (default: the run's own)"}),
    input: Flags.boolean({description: 'include each request\'s input messages (redacted) as gen_ai.input.messages', default: true, allowNo: true}),
  }

  async run(): Promise<ExportRunResult> {
    const {args, flags} = await this.parse(TraceExport)
    const {store, run} = this.openRun(flags.db, args.runId)
    const trafficFile = runTrafficFile(run, flags.traffic)
    const result = await exportRun(store, run, flags.otlp, {
      side: flags.side as 'candidate' | 'baseline' | 'recorded',
      trafficFile,
      input: flags.input,
      ...(flags.request !== undefined ? {requestId: flags.request} : {}),
    })
    if (trafficFile === null) this.warnLine(`traffic file ${flags.traffic ?? run.traffic_file} not found: request times start at the run's start, no input exported`)
    this.out(`wrote ${result.requests} request(s), ${result.spans} span(s) of run ${run.id} (${result.side}) to ${result.file}`)
    return result
  }

  private warnLine(message: string): void {
    this.err(`understudy: warning: ${message}`)
  }
}
