import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {openExistingStore} from '../../src/runs/open.js'
import {markBad} from '../../src/rollout/promote.js'
import type {BundleHistoryEntry} from '../../src/store/api.js'

export default class IncidentMarkBad extends BaseCommand {
  static override description = 'Mark a bundle bad in the rollout history, so last-known-good never picks it.'

  static override examples = [
    '<%= config.bin %> incident mark-bad support-refunds@2.0.0#1a2b3c4d5e6f',
    '<%= config.bin %> incident mark-bad 1a2b3c4d --note "refunds over limit executed" --json',
  ]

  static override args = {bundleRef: Args.string({description: 'bundle ref (name@version#hash12), full hash or unique hash prefix', required: true})}

  static override flags = {db: dbFlag, note: Flags.string({description: 'why it is bad'})}

  async run(): Promise<BundleHistoryEntry> {
    const {args, flags} = await this.parse(IncidentMarkBad)
    const store = openExistingStore(flags.db)
    try {
      const entry = markBad(store, args.bundleRef, flags.note ?? null)
      this.out(`marked ${entry.bundle_ref} bad`)
      return entry
    } finally {
      store.close()
    }
  }
}
