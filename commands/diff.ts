import {Flags} from '@oclif/core'
import {LineBuffer} from '../src/cli/line-buffer.js'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {baseSideOf} from '../src/diff/compare.js'
import type {Classification, DiffClass, RequestDiff} from '../src/diff/types.js'
import {listLine, listSummaryLine} from '../src/report/diff-list.js'
import {renderSideBySide} from '../src/report/side-by-side.js'
import {listRun, type ListedRequest, type ListTotals} from '../src/runs/diff-list.js'
import {compareRequest} from '../src/runs/group.js'

type DiffListResult = {
  run_id: string
  base_side: string
  only: string
  counts: Record<DiffClass, number>
  /** Requests missing the base or the candidate trace, not compared. */
  incomplete: number
  /** Traffic lines the run skipped, not compared. */
  skipped: number
  requests: ListedRequest[]
}

type DiffRequestResult = {run_id: string; request_id: string; diff: RequestDiff; classification: Classification}

export default class Diff extends RunCommand {
  static override description =
    'List the requests whose candidate behaviour differs from the base, with class and reasons; with --request, show one request side by side.'

  static override examples = [
    '<%= config.bin %> diff r20261125T1430',
    '<%= config.bin %> diff r20261125T1430 --only regressions',
    '<%= config.bin %> diff r20261125T1430 --request req-0042',
    '<%= config.bin %> diff r20261125T1430 --only all --json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    request: Flags.string({description: 'show this request side by side'}),
    only: Flags.option({
      description: 'which requests to list: regressions, changes (anything not same) or all',
      options: ['regressions', 'changes', 'all'] as const,
      default: 'changes' as const,
    })(),
    width: Flags.integer({description: 'width of the side-by-side view (default: terminal width or 120)', min: 40}),
  }

  async run(): Promise<DiffListResult | DiffRequestResult> {
    const {args, flags} = await this.parse(Diff)
    const {store, run} = this.openRun(flags.db, args.runId)
    if (flags.request !== undefined) {
      const {diff, classification} = compareRequest(store, run, flags.request)
      const width = flags.width ?? (process.stdout.isTTY ? process.stdout.columns : undefined) ?? 120
      this.write(renderSideBySide(diff, {width, color: this.colour(), classification}), {painted: true})
      return {run_id: run.id, request_id: flags.request, diff, classification}
    }

    // The listed requests are kept only for --json: a 100k-request listing held for nothing
    // doubled the command's memory.
    const json = this.jsonEnabled()
    const requests: ListedRequest[] = []
    let listed = 0
    const colour = this.colour()
    const listing = new LineBuffer(json ? null : (text) => this.write(text, {painted: true}))
    let totals: ListTotals
    try {
      totals = await listRun(store, run, flags.only, (r) => {
        listed++
        if (json) requests.push(r)
        else listing.line(listLine(r, colour))
      })
    } finally {
      // What was listed before a failure is still shown.
      listing.flush()
    }
    const baseSide = baseSideOf(run)
    this.out(listSummaryLine(listed, totals, baseSide))
    return {run_id: run.id, base_side: baseSide, only: flags.only, counts: totals.counts, incomplete: totals.incomplete, skipped: totals.skipped, requests}
  }
}
