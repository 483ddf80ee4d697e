import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../src/cli/base-command.js'
import {importMapping, importMappingFlags} from '../src/cli/import-flags.js'
import {UsageError} from '../src/errors.js'
import {IMPORT_FORMATS, type ImportFormat} from '../src/import/import-file.js'
import {initScenario, type InitResult} from '../src/init/init.js'

export default class Init extends BaseCommand {
  static override summary = 'Start a scenario from a log: imported traffic, a drafted bundle, scenario.yaml.'
  static override description =
    'Imports the log (as traffic import does) and writes a scenario folder that replays it: traffic.jsonl, v1/bundle.yaml with v1/prompts/system.md (tools and argument schemas from the log\'s tool definitions, risk guessed from the names, default-deny policy allowing what the log shows, budgets from the observed maxima), scenario.yaml (model: recorded), JSON Schemas for editors and a README listing every guess to review. The folder must be new or empty; everything is checked with bundle validate before it appears. Lines that cannot be imported are listed on stderr and skipped (--strict: nothing is written).'

  static override examples = [
    '<%= config.bin %> init skydesk --from openai requests.jsonl --tenant-attr org_id',
    '<%= config.bin %> init helpdesk --from otel traces.json --default-tenant acme --default-role member',
  ]

  static override args = {
    dir: Args.string({description: 'scenario folder to create (new or empty); the current directory when only the log is given'}),
    file: Args.string({description: 'the log or export file (as traffic import reads it)'}),
  }

  static override flags = {
    from: Flags.string({description: 'format of the log', options: [...IMPORT_FORMATS], required: true}),
    ...importMappingFlags,
    strict: Flags.boolean({description: 'fail, writing nothing, if any line or trace cannot be imported', default: false}),
  }

  async run(): Promise<InitResult> {
    const {args, flags} = await this.parse(Init)
    // `init [dir] <file>`: one argument is the log; the folder is then the current directory.
    const [dir, file] = args.file === undefined ? ['.', args.dir] : [args.dir ?? '.', args.file]
    if (file === undefined) throw new UsageError('missing the log file: understudy init [dir] --from <format> <file>')
    const result = await initScenario({dir, from: flags.from as ImportFormat, file, strict: flags.strict, mapping: importMapping(flags)})
    for (const e of result.errors) this.err(`skipped: ${e}`)
    this.out(`wrote ${result.dir}: ${result.requests} request(s) in traffic.jsonl${result.skipped > 0 ? ` (${result.skipped} skipped, listed above)` : ''}; bundle v1 with ${result.tools.length} tool(s)`)
    for (const t of result.tools) this.out(`  ${t.name}: risk ${t.risk} (guessed), ${t.calls} recorded call(s)${t.defined ? '' : ', no definition in the log'}`)
    this.out(`review the guesses listed in ${result.dir}/README.md, then:`)
    for (const n of result.next) this.out(`  ${n}`)
    return result
  }
}
