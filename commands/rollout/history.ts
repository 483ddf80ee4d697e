import {Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {badBundles, lastKnownGood} from '../../src/rollout/history.js'
import type {BundleHistoryEntry} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'

export default class RolloutHistory extends BaseCommand {
  static override description = 'List the bundle history: every promotion and bad mark, oldest first, and the last known-good bundle.'

  static override examples = ['<%= config.bin %> rollout history', '<%= config.bin %> rollout history --tenant acme --json']

  static override flags = {db: dbFlag, tenant: Flags.string({description: 'only events for this tenant (and for all)'})}

  async run(): Promise<{history: BundleHistoryEntry[]; bad: string[]; last_known_good: BundleHistoryEntry | null}> {
    const {flags} = await this.parse(RolloutHistory)
    if (!existsSync(flags.db)) {
      this.out('no bundle history yet')
      return {history: [], bad: [], last_known_good: null}
    }
    const store = openStore(flags.db)
    try {
      const all = store.listBundleHistory()
      const history = flags.tenant ? all.filter((e) => e.tenant === 'all' || e.tenant === flags.tenant) : all
      const bad = badBundles(all)
      const lkg = lastKnownGood(all, flags.tenant)
      if (history.length === 0) this.out('no bundle history yet')
      for (const e of history) {
        const what = e.stage === 'bad' ? 'marked BAD' : `→ ${e.stage}`
        this.out(`${e.promoted_at}  ${e.bundle_ref}  ${what}  (${e.tenant})${e.note ? `  ${e.note}` : ''}`)
      }
      if (lkg) this.out(`last known good${flags.tenant ? ` for ${flags.tenant}` : ''}: ${lkg.bundle_ref} (${lkg.stage}, promoted ${lkg.promoted_at})`)
      return {history, bad: [...bad], last_known_good: lkg}
    } finally {
      store.close()
    }
  }
}
