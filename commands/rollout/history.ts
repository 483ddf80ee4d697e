import {Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {historyView, type HistoryView} from '../../src/rollout/history.js'
import {renderHistory} from '../../src/rollout/render.js'
import {openStoreIfExists} from '../../src/runs/open.js'

export default class RolloutHistory extends BaseCommand {
  static override description = 'List the bundle history: every promotion and bad mark, oldest first, and the last known-good bundle.'

  static override examples = ['<%= config.bin %> rollout history', '<%= config.bin %> rollout history --tenant acme --json']

  static override flags = {db: dbFlag, tenant: Flags.string({description: 'only events for this tenant (and for all)'})}

  async run(): Promise<HistoryView> {
    const {flags} = await this.parse(RolloutHistory)
    // No store yet is no history yet, not an error; and looking must not create one.
    const store = openStoreIfExists(flags.db)
    let view: HistoryView
    try {
      view = historyView(store?.listBundleHistory() ?? [], flags.tenant)
    } finally {
      store?.close()
    }
    for (const line of renderHistory(view, flags.tenant)) this.out(line)
    return view
  }
}
