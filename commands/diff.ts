import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {colourWanted} from '../src/cli/colour.js'
import {UnderstudyError} from '../src/errors.js'
import {baseSideOf, compareGroup, groupByRequest} from '../src/diff/compare.js'
import {listRun, type ListedRequest, type ListTotals} from '../src/diff/list.js'
import {CLASSES, type Classification, type DiffClass, type RequestDiff} from '../src/diff/types.js'
import {renderSideBySide} from '../src/report/side-by-side.js'
import {resolveRun} from '../src/report/summary.js'
import {openStore} from '../src/store/sqlite.js'

type DiffListResult = {
  run_id: string
  base_side: string
  only: string
  counts: Record<DiffClass, number>
  /** Requests missing the base or the candidate trace, not compared. */
  incomplete: number
  requests: ListedRequest[]
}

type DiffRequestResult = {run_id: string; request_id: string; diff: RequestDiff; classification: Classification}

export default class Diff extends BaseCommand {
  static override description =
    'List the requests whose candidate behaviour differs from the base, with class and reasons; with --request, show one request side by side.'

  static override examples = [
    '<%= config.bin %> diff r20261125T1430',
    '<%= config.bin %> diff r20261125T1430 --only regressions',
    '<%= config.bin %> diff r20261125T1430 --request req-0042',
    '<%= config.bin %> diff r20261125T1430 --only all --json',
  ]

  static override args = {
    runId: Args.string({description: 'run id, or a unique prefix of one', required: true}),
  }

  static override flags = {
    db: dbFlag,
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
    const store = openStore(flags.db, {readonly: true})
    try {
      const run = resolveRun(store, args.runId)
      const baseSide = baseSideOf(run)
      if (flags.request !== undefined) {
        const groups = [...groupByRequest(store.iterateTraces(run.id, {requestId: flags.request}))]
        if (groups.length === 0) throw new UnderstudyError(`run ${run.id} has no request "${flags.request}"`)
        const compared = compareGroup(groups[0]!, baseSide)
        if (!compared.diff || !compared.classification) {
          const missing = compared.cand ? `${baseSide} (base)` : 'candidate'
          throw new UnderstudyError(`request "${flags.request}" of run ${run.id} has no ${missing} trace, so there is nothing to compare`)
        }
        const width = flags.width ?? (process.stdout.isTTY ? process.stdout.columns : undefined) ?? 120
        if (!this.jsonEnabled()) process.stdout.write(renderSideBySide(compared.diff, {width, color: colourWanted(process.stdout), classification: compared.classification}))
        return {run_id: run.id, request_id: flags.request, diff: compared.diff, classification: compared.classification}
      }

      // The listed requests are kept only for --json: a 100k-request listing held for nothing
      // doubled the command's memory.
      const json = this.jsonEnabled()
      const requests: ListedRequest[] = []
      let listed = 0
      const colour = colourWanted(process.stdout)
      const listing = new LineBuffer(!json)
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
      const {counts, incomplete} = totals
      const compared = CLASSES.reduce((n, c) => n + counts[c], 0)
      this.out(
        `${listed} listed of ${compared} compared against ${baseSide}: ` +
          CLASSES.filter((c) => counts[c] > 0)
            .map((c) => `${counts[c]} ${c}`)
            .join(', ') +
          (incomplete > 0 ? `; ${incomplete} not compared (a side is missing)` : ''),
      )
      return {run_id: run.id, base_side: baseSide, only: flags.only, counts, incomplete, requests}
    } finally {
      store.close()
    }
  }
}

/**
 * Collects listing lines and writes them to stdout in large pieces: a listing of 100k requests
 * written line by line spends more time in write calls than in diffing.
 */
class LineBuffer {
  private text = ''

  constructor(private readonly enabled: boolean) {}

  line(line: string): void {
    if (!this.enabled) return
    this.text += line + '\n'
    if (this.text.length >= 64 * 1024) this.flush()
  }

  flush(): void {
    if (this.text.length > 0) process.stdout.write(this.text)
    this.text = ''
  }
}

const CLASS_COLOUR: Record<DiffClass, string> = {regression: '31', improvement: '32', behaviour_change: '33', benign: '36', same: '2'}

function listLine(r: ListedRequest, colour: boolean): string {
  const {request_id: id, line} = r
  const cls = r
  const label = cls.class.padEnd(16)
  const shown = cls.reasons.slice(0, 2).map((r) => r.message)
  const more = cls.reasons.length > 2 ? ` (+${cls.reasons.length - 2} more)` : ''
  const noise = cls.noise.length > 0 ? ` [${cls.noise.length} noise]` : ''
  const safeId = id.replace(/[\u0000-\u001f\u007f]/g, '?')
  return `${colour ? `\u001b[${CLASS_COLOUR[cls.class]}m${label}\u001b[0m` : label} ${safeId} (line ${line}) ${shown.join('; ')}${more}${noise}`.trimEnd()
}
