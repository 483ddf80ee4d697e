import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {confirmed} from '../../src/cli/confirm.js'
import {formatBytes} from '../../src/report/bytes.js'
import {openExistingStore} from '../../src/runs/open.js'
import {removeRuns, runsToRemove, type Removal} from '../../src/runs/housekeeping.js'

export default class RunsRm extends BaseCommand {
  static override description =
    'Remove runs and their traces from the trace store and give the space back (reports the bytes freed). A run another process is writing is refused; without --yes it asks on a terminal and refuses elsewhere.'

  static override examples = ['<%= config.bin %> runs rm r20261125T1430 --yes', '<%= config.bin %> runs rm r20261125T1430 r20261126T0900 --yes --json']

  static override strict = false

  static override args = {runId: Args.string({description: 'run ids, or unique prefixes of them', required: true})}

  static override flags = {
    db: dbFlag,
    yes: Flags.boolean({char: 'y', description: 'remove without asking (needed where there is no terminal to ask on)', default: false}),
  }

  async run(): Promise<Removal & {db: string}> {
    const {argv, flags} = await this.parse(RunsRm)
    const store = openExistingStore(flags.db)
    try {
      const runs = runsToRemove(store, argv as string[], flags.db)
      if (!(await confirmed(`remove ${runs.length} run(s) (${runs.map((r) => r.id).join(', ')}) from ${flags.db}`, flags.yes))) {
        this.out('nothing removed')
        return {db: flags.db, removed: [], bytes_before: 0, bytes_after: 0, bytes_freed: 0}
      }
      const r = removeRuns(store, flags.db, runs)
      this.out(`removed ${r.removed.length} run(s) from ${flags.db}: ${r.removed.join(', ')}; ${formatBytes(r.bytes_freed)} freed (${formatBytes(r.bytes_before)} → ${formatBytes(r.bytes_after)})`)
      return {db: flags.db, ...r}
    } finally {
      store.close()
    }
  }
}
