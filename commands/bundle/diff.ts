import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {type BundleDiff, diffBundleDirs, isEmptyDiff} from '../../src/bundle/diff.js'
import {renderBundleDiff} from '../../src/bundle/render-diff.js'

export type BundleDiffResult = BundleDiff & {identical: boolean}

export default class BundleDiffCommand extends BaseCommand {
  static override description =
    'Show what changed between two bundles, grouped: model, agent mode, prompts (unified diff), tools and their argument schemas, policies rule by rule, budgets, quotas, retrieval, memory, guardrails.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v1 scenarios/support-refunds/v2',
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v1 scenarios/support-refunds/v2 --exit-code',
    '<%= config.bin %> <%= command.id %> scenarios/support-refunds/v1 scenarios/support-refunds/v2 --json',
  ]

  static override args = {
    a: Args.string({description: 'baseline bundle directory', required: true}),
    b: Args.string({description: 'candidate bundle directory', required: true}),
  }

  static override flags = {
    'exit-code': Flags.boolean({
      description: 'exit 1 when the bundles differ, 0 when they do not (like git diff --exit-code)',
      default: false,
    }),
  }

  async run(): Promise<BundleDiffResult> {
    const {args, flags} = await this.parse(BundleDiffCommand)
    const diff = await diffBundleDirs(args.a, args.b)
    const identical = isEmptyDiff(diff)
    this.out(renderBundleDiff(diff, {color: this.colour()}).replace(/\n$/, ''), {painted: true})
    // Set, not exit(): with --json oclif still has to print the returned value.
    if (flags['exit-code'] && !identical) process.exitCode = 1
    return {...diff, identical}
  }
}
