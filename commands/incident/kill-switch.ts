import {Args, Flags} from '@oclif/core'
import {loadBundle} from '../../src/bundle/load.js'
import {BaseCommand} from '../../src/cli/base-command.js'
import {ValidationError} from '../../src/errors.js'
import {killSwitch} from '../../src/incident/variants.js'
import {writeBundle} from '../../src/incident/write-bundle.js'

export default class IncidentKillSwitch extends BaseCommand {
  static override description =
    'Write a variant of a bundle with the named tools disabled (version +killswitch, prompts copied), validated before it is kept.'

  static override examples = [
    '<%= config.bin %> incident kill-switch scenarios/support-refunds/v2 send_email --out /tmp/v2-no-email',
    '<%= config.bin %> incident kill-switch ./bundle issue_refund send_email --out ./bundle-killswitch --json',
  ]

  static override strict = false

  static override args = {
    bundleDir: Args.string({description: 'bundle directory', required: true}),
    tool: Args.string({description: 'tool(s) to disable', required: true}),
  }

  static override flags = {out: Flags.string({description: 'directory to write the variant to (must not exist or be empty)', required: true})}

  async run(): Promise<{source: string; bundle: string; dir: string; disabled: string[]}> {
    const {args, argv, flags} = await this.parse(IncidentKillSwitch)
    const tools = (argv as string[]).slice(1)
    if (tools.length === 0) throw new ValidationError(['name at least one tool to disable'])
    const source = await loadBundle(args.bundleDir)
    const manifest = killSwitch(source.manifest, tools, args.bundleDir)
    const bundle = await writeBundle(manifest, source.templates, flags.out, `Kill-switch of ${source.ref}: ${tools.join(', ')} disabled.`)
    this.out(`wrote ${bundle.ref} to ${flags.out}: ${tools.join(', ')} disabled`)
    return {source: source.ref, bundle: bundle.ref, dir: flags.out, disabled: tools}
  }
}
