import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {loadBundle} from '../../src/bundle/load.js'

export type BundleHashResult = {ref: string; hash: string; name: string; version: string}

export default class BundleHash extends BaseCommand {
  static override description =
    'Print the content-addressed reference of a bundle (name@version#hash12). Key order, YAML vs JSON, whitespace and line endings do not change it.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v1',
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v1 --full',
  ]

  static override args = {
    dir: Args.string({description: 'bundle directory', required: true}),
  }

  static override flags = {
    full: Flags.boolean({description: 'also print the full sha256 on a second line', default: false}),
  }

  async run(): Promise<BundleHashResult> {
    const {args, flags} = await this.parse(BundleHash)
    const bundle = await loadBundle(args.dir)
    this.out(bundle.ref)
    if (flags.full) this.out(bundle.hash)
    return {ref: bundle.ref, hash: bundle.hash, name: bundle.manifest.name, version: bundle.manifest.version}
  }
}
