import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import type {TraceSide} from '../../src/trace/schema.js'
import type {RunInfo} from '../../src/store/api.js'
import {countsBySide, runDetail} from '../../src/store/render.js'

export default class RunsShow extends RunCommand {
  static override description = "Show a run's metadata and how many traces it holds per side and status."

  static override examples = [
    '<%= config.bin %> runs show r20261125T143012-3fa9c1',
    '<%= config.bin %> runs show r20261125T1430 --json',
  ]

  static override args = {runId: runIdArg}

  async run(): Promise<{run: RunInfo; counts: Partial<Record<TraceSide, Record<string, number>>>}> {
    const {args, flags} = await this.parse(RunsShow)
    const {store, run} = this.openRun(flags.db, args.runId)
    const counts = store.traceCounts(run.id)
    for (const line of runDetail(run, counts)) this.out(line)
    return {run, counts: countsBySide(counts)}
  }
}
