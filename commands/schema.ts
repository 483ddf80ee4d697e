import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../src/cli/base-command.js'
import {CONFIG_KINDS, type ConfigKind, configJsonSchemaText, referenceMarkdown} from '../src/init/json-schema.js'

export default class Schema extends BaseCommand {
  static override summary = 'Print the JSON Schema of bundle.yaml, scenario.yaml or fixtures.yaml (generated from the loaders\' own schemas).'
  static override description =
    'For editors: reference it from a file as `# yaml-language-server: $schema=<path>`. --format markdown prints the field reference of both files (docs/bundle-reference.md).'

  static override examples = ['<%= config.bin %> schema bundle > schemas/bundle.schema.json', '<%= config.bin %> schema bundle --format markdown > docs/bundle-reference.md']

  static override args = {
    kind: Args.string({description: 'which file', options: [...CONFIG_KINDS], required: true}),
  }

  static override flags = {
    format: Flags.string({description: 'json: the JSON Schema; markdown: the field reference of all three files', options: ['json', 'markdown'], default: 'json'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Schema)
    this.write(flags.format === 'markdown' ? referenceMarkdown() : configJsonSchemaText(args.kind as ConfigKind))
  }
}
