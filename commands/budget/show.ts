import {Args} from '@oclif/core'
import {loadBundle} from '../../src/bundle/load.js'
import {effectiveBudgets, type EffectiveBudgets} from '../../src/budget/effective.js'
import {renderEffective} from '../../src/budget/render.js'
import {BaseCommand} from '../../src/cli/base-command.js'

export default class BudgetShow extends BaseCommand {
  static override description =
    'Show the budgets a bundle puts on each request, each tool and each tenant, and which manifest field sets each one.'

  static override examples = ['<%= config.bin %> budget show scenarios/support-refunds/v2', '<%= config.bin %> budget show ./bundle --json']

  static override args = {bundleDir: Args.string({description: 'bundle directory', required: true})}

  async run(): Promise<EffectiveBudgets & {bundle: string}> {
    const {args} = await this.parse(BudgetShow)
    const bundle = await loadBundle(args.bundleDir)
    const e = effectiveBudgets(bundle.manifest)
    for (const line of renderEffective(bundle.ref, e)) this.out(line)
    return {bundle: bundle.ref, ...e}
  }
}
