import {Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {confirmed} from '../../src/cli/confirm.js'
import {UsageError} from '../../src/errors.js'
import {formatBytes} from '../../src/report/bytes.js'
import {openExistingStore} from '../../src/runs/open.js'
import {heldByWriter, parseAge, pruneSelection, removeRuns, type PruneRule, type Removal} from '../../src/runs/housekeeping.js'

export default class RunsPrune extends BaseCommand {
  static override description =
    'Remove all but the newest N runs (--keep N) or the runs started before an age (--older-than 30d), and give the space back. Runs another process is writing are kept; without --yes it asks on a terminal and refuses elsewhere.'

  static override examples = ['<%= config.bin %> runs prune --keep 10 --yes', '<%= config.bin %> runs prune --older-than 30d --yes']

  static override flags = {
    db: dbFlag,
    keep: Flags.integer({description: 'keep the newest N runs', min: 0, exactlyOne: ['keep', 'older-than']}),
    'older-than': Flags.string({description: 'remove runs started longer ago than this: 90m, 12h, 30d, 2w', exactlyOne: ['keep', 'older-than']}),
    yes: Flags.boolean({char: 'y', description: 'remove without asking (needed where there is no terminal to ask on)', default: false}),
  }

  async run(): Promise<Removal & {db: string; kept_busy: string[]}> {
    const {flags} = await this.parse(RunsPrune)
    let rule: PruneRule
    if (flags.keep !== undefined) rule = {keep: flags.keep}
    else {
      const ms = parseAge(flags['older-than'] ?? '')
      if (ms === null) throw new UsageError(`--older-than: "${flags['older-than']}" is not an age (a number and m, h, d or w: 30d)`)
      rule = {olderThanMs: ms}
    }
    const store = openExistingStore(flags.db)
    try {
      const chosen = pruneSelection(store.listRuns(), rule)
      const busy = chosen.filter((r) => heldByWriter(store, r.id)).map((r) => r.id)
      for (const id of busy) this.err(`understudy: note: run ${id} is being written by another process; kept`)
      const runs = chosen.filter((r) => !busy.includes(r.id))
      const none = {db: flags.db, removed: [], bytes_before: 0, bytes_after: 0, bytes_freed: 0, kept_busy: busy}
      if (runs.length === 0) {
        this.out(`no run to remove in ${flags.db}`)
        return none
      }
      if (!(await confirmed(`remove ${runs.length} run(s) from ${flags.db}, the oldest ${runs.at(-1)!.id}`, flags.yes))) {
        this.out('nothing removed')
        return none
      }
      const r = removeRuns(store, flags.db, runs)
      this.out(`removed ${r.removed.length} run(s) from ${flags.db}; ${formatBytes(r.bytes_freed)} freed (${formatBytes(r.bytes_before)} → ${formatBytes(r.bytes_after)})`)
      return {db: flags.db, ...r, kept_busy: busy}
    } finally {
      store.close()
    }
  }
}
