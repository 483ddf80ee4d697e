import {Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {openStoreIfExists} from '../../src/runs/open.js'
import type {RunInfo} from '../../src/store/api.js'
import {runsTable} from '../../src/store/render.js'

export default class RunsList extends BaseCommand {
  static override description = 'List the runs in the trace store, newest first.'

  static override examples = [
    '<%= config.bin %> runs list',
    '<%= config.bin %> runs list --limit 5',
    '<%= config.bin %> runs list --db nightly.db --json',
  ]

  static override flags = {
    db: dbFlag,
    limit: Flags.integer({description: 'show at most this many runs', default: 20, min: 1}),
  }

  async run(): Promise<{db: string; runs: RunInfo[]}> {
    const {flags} = await this.parse(RunsList)
    // No store is no runs, not an error; and listing must not create one.
    const store = openStoreIfExists(flags.db)
    let runs: RunInfo[]
    try {
      runs = store?.listRuns(flags.limit) ?? []
    } finally {
      store?.close()
    }
    if (runs.length === 0) this.out(`no runs in ${flags.db}`)
    else for (const line of runsTable(runs)) this.out(line)
    return {db: flags.db, runs}
  }
}
