import {existsSync} from 'node:fs'
import {Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import type {RunInfo} from '../../src/store/api.js'
import {runsTable} from '../../src/store/render.js'
import {openStore} from '../../src/store/sqlite.js'

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
    // Listing must not create a store where there was none.
    if (!existsSync(flags.db)) {
      this.out(`no runs in ${flags.db}`)
      return {db: flags.db, runs: []}
    }
    const store = openStore(flags.db)
    let runs: RunInfo[]
    try {
      runs = store.listRuns(flags.limit)
    } finally {
      store.close()
    }
    if (runs.length === 0) this.out(`no runs in ${flags.db}`)
    else for (const line of runsTable(runs)) this.out(line)
    return {db: flags.db, runs}
  }
}
