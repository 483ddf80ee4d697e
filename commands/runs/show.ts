import {existsSync} from 'node:fs'
import {Args} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {StoreError} from '../../src/errors.js'
import type {TraceSide} from '../../src/trace/schema.js'
import type {RunInfo} from '../../src/store/api.js'
import {countsBySide, runDetail} from '../../src/store/render.js'
import {openStore} from '../../src/store/sqlite.js'

export default class RunsShow extends BaseCommand {
  static override description = "Show a run's metadata and how many traces it holds per side and status."

  static override examples = [
    '<%= config.bin %> runs show r20261125T143012-3fa9c1',
    '<%= config.bin %> runs show r20261125T1430 --json',
  ]

  static override args = {
    runId: Args.string({description: 'run id, or a unique prefix of one', required: true}),
  }

  static override flags = {db: dbFlag}

  async run(): Promise<{run: RunInfo; counts: Partial<Record<TraceSide, Record<string, number>>>}> {
    const {args, flags} = await this.parse(RunsShow)
    if (!existsSync(flags.db)) throw new StoreError(`${flags.db}: no trace store there, so no run ${args.runId}`)
    const store = openStore(flags.db)
    try {
      const run = store.getRun(args.runId)
      if (run === undefined) throw new StoreError(`${flags.db}: no run matches "${args.runId}"`)
      const counts = store.traceCounts(run.id)
      for (const line of runDetail(run, counts)) this.out(line)
      return {run, counts: countsBySide(counts)}
    } finally {
      store.close()
    }
  }
}
