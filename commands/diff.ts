import {Flags} from '@oclif/core'
import {LineBuffer} from '../src/cli/line-buffer.js'
import {acceptedFlag} from '../src/cli/base-command.js'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {acceptedEntryFor, staleEntries, type AcceptedEntry} from '../src/diff/accepted.js'
import {staleText} from '../src/report/accepted.js'
import {resolveAccepted, type AcceptedList} from '../src/runs/accepted-file.js'
import type {CauseGroup} from '../src/diff/cause.js'
import {baseSideOf} from '../src/diff/compare.js'
import type {Classification, DiffClass, RequestDiff} from '../src/diff/types.js'
import {causeLine, listLine, listSummaryLine} from '../src/report/diff-list.js'
import {requestContext} from '../src/report/request-context.js'
import {renderSideBySide} from '../src/report/side-by-side.js'
import {listCauses, listRun, type ListedRequest, type ListTotals} from '../src/runs/diff-list.js'
import {compareRequest} from '../src/runs/group.js'
import {findRecordContexts, traceContext} from '../src/runs/request-record.js'
import {runTrafficFile} from '../src/runs/traffic-join.js'
import {UnderstudyError, UsageError} from '../src/errors.js'

type DiffListResult = {
  run_id: string
  base_side: string
  only: string
  counts: Record<DiffClass, number>
  /** Requests missing the base or the candidate trace, not compared. */
  incomplete: number
  /** Traffic lines the run skipped, not compared. */
  skipped: number
  /** Requests whose cause the accepted-differences file accepts: counted here, not in `counts`. */
  accepted: number
  requests: ListedRequest[]
}

type DiffCausesResult = Omit<DiffListResult, 'requests'> & {by: 'cause'; causes: (CauseGroup & {accepted: AcceptedEntry | null})[]}

type DiffRequestResult = {run_id: string; request_id: string; diff: RequestDiff; classification: Classification}

export default class Diff extends RunCommand {
  static override description =
    'List the requests whose candidate behaviour differs from the base, with class and reasons; with --request, show one request side by side.'

  static override examples = [
    '<%= config.bin %> diff r20261125T1430',
    '<%= config.bin %> diff r20261125T1430 --only regressions',
    '<%= config.bin %> diff r20261125T1430 --request req-0042',
    '<%= config.bin %> diff r20261125T1430 --only all --json',
    '<%= config.bin %> diff r20261125T1430 --by cause',
    '<%= config.bin %> diff r20261125T1430 --cause 3f9a1c0b2e',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    request: Flags.string({description: 'show this request side by side'}),
    only: Flags.option({
      description: 'which requests to list: regressions, changes (anything not same) or all',
      options: ['regressions', 'changes', 'all'] as const,
      default: 'changes' as const,
    })(),
    by: Flags.option({
      description: 'group the listed requests: by cause (tool, decision, rule and reason codes, guardrail, argument field, status), with counts and examples',
      options: ['request', 'cause'] as const,
      default: 'request' as const,
    })(),
    cause: Flags.string({description: 'list only the requests of this cause id (or a prefix of at least 4 digits), as `--by cause` names them', exclusive: ['request', 'by']}),
    width: Flags.integer({description: 'width of the side-by-side view (default: terminal width or 120)', min: 40}),
    full: Flags.boolean({description: 'with --request: unfold long messages, documents, tool arguments and results instead of showing their first lines and the folded size'}),
    accepted: acceptedFlag,
  }

  async run(): Promise<DiffListResult | DiffCausesResult | DiffRequestResult> {
    const {args, flags} = await this.parse(Diff)
    const {store, run} = this.openRun(flags.db, args.runId)
    if (flags.request !== undefined) {
      const {diff, classification, base, cand} = compareRequest(store, run, flags.request)
      // The conversation, documents and memory come from the traffic file, when it is still there.
      const file = runTrafficFile(run)
      const record = file === null ? null : ((await findRecordContexts(file, [diff.request_id])).get(diff.request_id) ?? null)
      const context = requestContext(record, {base: traceContext(base), cand: traceContext(cand)})
      const width = flags.width ?? (process.stdout.isTTY ? process.stdout.columns : undefined) ?? 120
      this.write(renderSideBySide(diff, {width, color: this.colour(), classification, context, full: flags.full}), {painted: true})
      return {run_id: run.id, request_id: flags.request, diff, classification}
    }

    const baseSide = baseSideOf(run)
    const accepted = resolveAccepted(flags.accepted)
    const entries = accepted?.entries ?? []
    if (flags.by === 'cause') {
      const {totals, groups} = await listCauses(store, run, flags.only, {accepted: entries})
      if (!this.jsonEnabled()) {
        const colour = this.colour()
        if (groups.length > 0) this.write(groups.map((g) => causeLine(g, colour, acceptedEntryFor(g.cause, entries))).join('\n') + '\n', {painted: true})
      }
      // Stale means no request of the run has the cause: only a listing of every change can tell.
      if (flags.only !== 'regressions') this.staleNotes(accepted, groups, run.id)
      const listed = groups.reduce((n, g) => n + g.requests, 0)
      this.out(`${groups.length} cause${groups.length === 1 ? '' : 's'}; ${listSummaryLine(listed, totals, baseSide)}`)
      const {counts, incomplete, skipped} = totals
      const causes = groups.map((g) => ({...g, accepted: acceptedEntryFor(g.cause, entries) ?? null}))
      return {run_id: run.id, base_side: baseSide, only: flags.only, by: 'cause', counts, incomplete, skipped, accepted: totals.accepted, causes}
    }

    if (flags.cause !== undefined && !/^[0-9a-f]{4,}$/i.test(flags.cause))
      throw new UsageError(`--cause: "${flags.cause}" is not a cause id (at least 4 hex digits, as \`understudy diff ${run.id} --by cause\` prints them)`)

    // The listed requests are kept only for --json: a 100k-request listing held for nothing
    // doubled the command's memory.
    const json = this.jsonEnabled()
    const requests: ListedRequest[] = []
    let listed = 0
    const colour = this.colour()
    const listing = new LineBuffer(json ? null : (text) => this.write(text, {painted: true}))
    let totals: ListTotals
    try {
      totals = await listRun(
        store,
        run,
        flags.only,
        (r) => {
          listed++
          if (json) requests.push(r)
          else listing.line(listLine(r, colour))
        },
        {...(flags.cause === undefined ? {} : {cause: flags.cause}), accepted: entries},
      )
    } finally {
      // What was listed before a failure is still shown.
      listing.flush()
    }
    // A cause id that names nothing is a mistake to say, not an empty listing to print.
    if (flags.cause !== undefined && listed === 0)
      throw new UnderstudyError(`run ${run.id} has no request of cause ${flags.cause} among ${flags.only === 'regressions' ? 'its regressions' : flags.only === 'all' ? 'its requests' : 'its changes'}; \`understudy diff ${run.id} --by cause\` lists the causes`)
    this.out(listSummaryLine(listed, totals, baseSide))
    return {run_id: run.id, base_side: baseSide, only: flags.only, counts: totals.counts, incomplete: totals.incomplete, skipped: totals.skipped, accepted: totals.accepted, requests}
  }

  /** Entries of the accepted-differences file whose cause no request of the run has: said on stderr. */
  private staleNotes(accepted: AcceptedList | null, groups: readonly CauseGroup[], runId: string): void {
    if (accepted === null) return
    for (const e of staleEntries(accepted.entries, groups.map((g) => g.cause))) this.err(`understudy: note: ${accepted.file}: ${staleText(e, runId)}`)
  }
}
