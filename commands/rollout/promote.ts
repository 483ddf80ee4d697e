import {Args, Flags} from '@oclif/core'
import {loadBundle} from '../../src/bundle/load.js'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {promoteUnlessBad} from '../../src/rollout/promote.js'
import {ALL_TENANTS, describeStage, STAGES, type Stage} from '../../src/rollout/stages.js'
import type {BundleHistoryEntry} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'

export default class RolloutPromote extends BaseCommand {
  static override description = 'Record a promotion of a bundle to a rollout stage, for one tenant or all, in the bundle history.'

  static override examples = [
    '<%= config.bin %> rollout promote scenarios/support-refunds/v2 --stage canary-1 --tenant globex',
    '<%= config.bin %> rollout promote ./bundle --stage full --tenant all --note "release 2.0" --json',
  ]

  static override args = {bundleDir: Args.string({description: 'bundle directory', required: true})}

  static override flags = {
    db: dbFlag,
    stage: Flags.string({description: 'rollout stage', options: [...STAGES], required: true}),
    tenant: Flags.string({description: `tenant id, or ${ALL_TENANTS}`, default: ALL_TENANTS}),
    note: Flags.string({description: 'free text kept with the promotion'}),
  }

  async run(): Promise<BundleHistoryEntry> {
    const {args, flags} = await this.parse(RolloutPromote)
    const bundle = await loadBundle(args.bundleDir)
    const store = openStore(flags.db)
    try {
      const entry = promoteUnlessBad(store, bundle, flags.stage as Stage, flags.tenant, flags.note ?? null)
      this.out(`promoted ${entry.bundle_ref} to ${describeStage(flags.stage as Stage)} for ${entry.tenant}`)
      return entry
    } finally {
      store.close()
    }
  }
}
