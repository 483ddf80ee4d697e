import {Args} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {loadBundleWithWarnings} from '../../src/bundle/load.js'

export type BundleValidateResult = {
  ok: true
  ref: string
  hash: string
  dir: string
  manifest_file: string
  tools: number
  policies: number
  mode: string
  warnings: string[]
}

export default class BundleValidate extends BaseCommand {
  static override description =
    'Check a bundle directory: manifest schema, tool contracts, policies and prompt templates. Lists every problem as file:field: message.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v2',
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v2 --json',
  ]

  static override args = {
    dir: Args.string({description: 'bundle directory (holds bundle.yaml or bundle.json)', required: true}),
  }

  async run(): Promise<BundleValidateResult> {
    const {args} = await this.parse(BundleValidate)
    // Problems surface as a ValidationError; BaseCommand prints each on its own line and exits 1.
    const {bundle, warnings} = await loadBundleWithWarnings(args.dir)
    // Warnings go to stderr (also under --json) and leave the exit code 0.
    for (const w of warnings) this.err(w)
    const m = bundle.manifest
    this.out(`ok ${bundle.ref} (${m.tools.length} tools, ${m.policies.length} policies, mode ${m.agent.mode})`)
    return {
      ok: true,
      ref: bundle.ref,
      hash: bundle.hash,
      dir: bundle.dir,
      manifest_file: bundle.manifestFile,
      tools: m.tools.length,
      policies: m.policies.length,
      mode: m.agent.mode,
      warnings,
    }
  }
}
