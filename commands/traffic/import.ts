import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {importMapping, importMappingFlags} from '../../src/cli/import-flags.js'
import {ValidationError} from '../../src/errors.js'
import {IMPORT_FORMATS, importTrafficFile, type ImportFileResult, type ImportFormat} from '../../src/import/import-file.js'

export default class TrafficImport extends BaseCommand {
  static override description =
    'Turn traces or API logs of a real agent service into recorded traffic (JSONL): OpenTelemetry (GenAI conventions, OpenInference, OpenLLMetry), OpenAI or Anthropic request/response logs, Langfuse or LangSmith exports. One request per trace or agent loop. What cannot be read is reported as file:LINE: field: reason and skipped (exit 1; the rest is still written), or fails the import with --strict.'

  static override examples = [
    '<%= config.bin %> traffic import --from otel traces.json --out traffic.jsonl --tenant-attr tenant.id --default-role member',
    '<%= config.bin %> traffic import --from openai requests.jsonl --out traffic.jsonl --tenant-attr org_id --default-role member',
    '<%= config.bin %> traffic import --from anthropic messages.jsonl --out traffic.jsonl --default-tenant acme --default-role member',
    '<%= config.bin %> traffic import --from langfuse export.jsonl --out traffic.jsonl --tenant-attr org',
    '<%= config.bin %> traffic import --from langsmith runs.jsonl --out traffic.jsonl --strict',
  ]

  static override args = {
    file: Args.string({description: 'the export or log file (JSON Lines, or one JSON document; for otel also one OTLP/protobuf export)', required: true}),
  }

  static override flags = {
    from: Flags.string({description: 'format of the input file', options: [...IMPORT_FORMATS], required: true}),
    out: Flags.string({description: 'traffic JSONL file to write (replaced atomically)', required: true}),
    ...importMappingFlags,
    strict: Flags.boolean({description: 'fail, writing nothing, if any line or trace cannot be imported', default: false}),
  }

  async run(): Promise<ImportFileResult> {
    const {args, flags} = await this.parse(TrafficImport)
    const result = await importTrafficFile({
      from: flags.from as ImportFormat,
      file: args.file,
      out: flags.out,
      strict: flags.strict,
      mapping: importMapping(flags),
    })
    const tools = result.tools.length > 0 ? `; ${result.tools.length} tool definition(s) seen` : ''
    if (result.written > 0) this.out(`imported ${result.written} request(s), skipped ${result.skipped}, from ${result.read} ${result.from === 'otel' || result.from === 'langfuse' || result.from === 'langsmith' ? 'trace(s)' : 'line(s)'} to ${result.out}${tools}`)
    else this.out(`no request could be built from ${result.read} ${result.from === 'otel' || result.from === 'langfuse' || result.from === 'langsmith' ? 'trace(s)' : 'line(s)'}; skipped ${result.skipped}; ${result.out} not written`)
    if (result.errors.length > 0 && this.jsonEnabled()) {
      // Set, not thrown: --json keeps the whole result (counts, problems, tool definitions) and the exit status says "skipped".
      process.exitCode = 1
      return result
    }
    if (result.errors.length > 0) {
      const summary = `${args.file}: ${result.errors.length} problem(s); ${result.skipped} skipped, ${result.written} imported`
      throw new ValidationError(result.errors, result.errors.length > 1 ? summary : undefined)
    }
    return result
  }
}
