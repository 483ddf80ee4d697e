import {Args, Flags} from '@oclif/core'
import {loadBundle} from '../../src/bundle/load.js'
import {BaseCommand} from '../../src/cli/base-command.js'
import {degrade, degradedTools, DRAFT_ONLY_REASON, type DegradeMode} from '../../src/incident/variants.js'
import {writeBundle} from '../../src/incident/write-bundle.js'

export default class IncidentDegrade extends BaseCommand {
  static override description =
    'Write a degraded variant of a bundle: read_only disables every write tool; draft_only makes every write need approval (DEGRADED_DRAFT_ONLY), so nothing is executed.'

  static override examples = [
    '<%= config.bin %> incident degrade scenarios/support-refunds/v2 --mode read_only --out /tmp/v2-read-only',
    '<%= config.bin %> incident degrade ./bundle --mode draft_only --out ./bundle-draft --json',
  ]

  static override args = {bundleDir: Args.string({description: 'bundle directory', required: true})}

  static override flags = {
    mode: Flags.string({description: 'how to degrade', options: ['read_only', 'draft_only'], required: true}),
    out: Flags.string({description: 'directory to write the variant to (must not exist or be empty)', required: true}),
  }

  async run(): Promise<{source: string; bundle: string; dir: string; mode: DegradeMode; disabled: string[]; approval_required: string[]}> {
    const {args, flags} = await this.parse(IncidentDegrade)
    const mode = flags.mode as DegradeMode
    const source = await loadBundle(args.bundleDir)
    const manifest = degrade(source.manifest, mode)
    const bundle = await writeBundle(manifest, source.templates, flags.out, `${source.ref} degraded to ${mode}.`)
    const {disabled, approval_required: approval} = degradedTools(source.manifest, mode)
    this.out(`wrote ${bundle.ref} to ${flags.out}: ${mode === 'read_only' ? `disabled ${disabled.join(', ')}` : `${approval.join(', ')} need approval (${DRAFT_ONLY_REASON})`}`)
    return {source: source.ref, bundle: bundle.ref, dir: flags.out, mode, disabled, approval_required: approval}
  }
}
