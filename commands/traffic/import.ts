import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {ValidationError} from '../../src/errors.js'
import {importOtelFile, type ImportFileResult} from '../../src/otel/import-file.js'

export default class TrafficImport extends BaseCommand {
  static override description =
    'Turn traces of a real agent service into recorded traffic (JSONL): one request per trace, tool calls from execute_tool spans, usage from chat spans. Traces that cannot be built are reported (exit 1); the others are still written.'

  static override examples = [
    '<%= config.bin %> traffic import --from otel traces.json --out traffic.jsonl',
    '<%= config.bin %> traffic import --from otel collector-export.jsonl --out traffic.jsonl --json',
  ]

  static override args = {
    file: Args.string({description: 'OTLP/JSON file (one export request, or JSON Lines of them)', required: true}),
  }

  static override flags = {
    from: Flags.string({description: 'format of the input file', options: ['otel'], required: true}),
    out: Flags.string({description: 'traffic JSONL file to write (replaced atomically)', required: true}),
  }

  async run(): Promise<ImportFileResult> {
    const {args, flags} = await this.parse(TrafficImport)
    const result = await importOtelFile(args.file, flags.out)
    if (result.written > 0) this.out(`wrote ${result.written} request(s) from ${result.traces} trace(s) to ${result.out}`)
    else this.out(`no request could be built from ${result.traces} trace(s); ${result.out} not written`)
    if (result.errors.length > 0) {
      const summary = `${args.file}: ${result.errors.length} trace(s) could not be imported`
      throw new ValidationError(result.errors, result.errors.length > 1 ? summary : undefined)
    }
    return result
  }
}
