import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {renderReport, formatFromPath, REPORT_FORMATS, type ReportFormat} from '../src/report/render.js'
import {writeFileAtomic} from '../src/util/atomic-write.js'
import {scorecardForRun} from '../src/scorecard/for-run.js'
import type {Colour} from '../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../src/scorecard/thresholds.js'
import {openStore} from '../src/store/sqlite.js'

type ReportResult = {run_id: string; format: ReportFormat; out: string | null; bytes: number; regressions: number; scorecard: Colour}

export default class Report extends BaseCommand {
  static override description =
    'Write a report of a run: Markdown, JSON, or one self-contained HTML file with charts, the scorecard and every regression side by side.'

  static override examples = [
    '<%= config.bin %> report r20261125T1430 --format html --out report.html',
    '<%= config.bin %> report r20261125T1430 --out report.md',
    '<%= config.bin %> report r20261125T1430 --format json > report.json',
  ]

  static override args = {
    runId: Args.string({description: 'run id, or a unique prefix of one', required: true}),
  }

  static override flags = {
    db: dbFlag,
    format: Flags.option({description: 'report format (default: from --out, else md)', options: REPORT_FORMATS})(),
    out: Flags.string({char: 'o', description: 'file to write (written whole or not at all); stdout when absent'}),
    thresholds: Flags.string({description: 'scorecard thresholds file (YAML or JSON) overriding the defaults'}),
  }

  async run(): Promise<ReportResult> {
    const {args, flags} = await this.parse(Report)
    const format: ReportFormat = flags.format ?? (flags.out ? formatFromPath(flags.out) : undefined) ?? 'md'
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const store = openStore(flags.db, {readonly: true})
    let text: string
    let result: Omit<ReportResult, 'bytes' | 'out' | 'format'>
    try {
      const {summary, card} = await scorecardForRun(store, args.runId, thresholds)
      text = renderReport(format, summary, card)
      result = {run_id: summary.run.id, regressions: summary.regressions.count, scorecard: card.colour}
    } finally {
      store.close()
    }
    const bytes = Buffer.byteLength(text)
    if (flags.out) {
      writeFileAtomic(flags.out, text)
      this.out(`wrote ${format} report of run ${result.run_id} to ${flags.out} (${bytes} bytes; ${result.regressions} regressions; scorecard ${result.scorecard})`)
    } else if (!this.jsonEnabled()) {
      process.stdout.write(text)
    }
    return {...result, format, out: flags.out ?? null, bytes}
  }
}
