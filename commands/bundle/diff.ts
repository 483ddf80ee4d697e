import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {type BundleDiff, diffBundles, isEmptyDiff} from '../../src/bundle/diff.js'
import {colorWanted, renderBundleDiff} from '../../src/bundle/render-diff.js'
import {validateBundle} from '../../src/bundle/validate.js'
import {ValidationError} from '../../src/errors.js'

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
    // Both are checked before failing, so one run reports the problems of both bundles.
    const [va, vb] = await Promise.all([validateBundle(args.a), validateBundle(args.b)])
    if (!va.bundle || !vb.bundle) {
      const problems = [...new Set([...va.problems, ...vb.problems])]
      throw new ValidationError(problems, problems.length > 1 ? `${problems.length} problems; nothing compared` : undefined)
    }
    const [a, b] = [va.bundle, vb.bundle]
    const diff = diffBundles(a, b)
    const identical = isEmptyDiff(diff)
        this.out(renderBundleDiff(diff, {color: colorWanted(process.stdout, process.env)}).replace(/\n$/, ''))
    // Set, not exit(): with --json oclif still has to print the returned value.
    if (flags['exit-code'] && !identical) process.exitCode = 1
    return {...diff, identical}
  }
}
