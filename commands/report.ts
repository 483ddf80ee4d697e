import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {formatFromPath, REPORT_FORMATS, renderJsonReport, type ReportFormat} from '../src/report/formats.js'
import {joinRegressionContext} from '../src/runs/request-record.js'
import {runSummary} from '../src/runs/run-summary.js'
import {scorecard, type Colour} from '../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../src/scorecard/thresholds.js'
import {writeFileAtomic} from '../src/util/atomic-write.js'
import {rollbackFrequency} from '../src/rollout/history.js'

type ReportResult = {run_id: string; format: ReportFormat; out: string | null; bytes: number; regressions: number; scorecard: Colour}

export default class Report extends RunCommand {
  static override description =
    'Write a report of a run: Markdown, JSON, or one self-contained HTML file with charts, the scorecard and every regression side by side.'

  static override examples = [
    '<%= config.bin %> report r20261125T1430 --format html --out report.html',
    '<%= config.bin %> report r20261125T1430 --out report.md',
    '<%= config.bin %> report r20261125T1430 --format json > report.json',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    format: Flags.option({description: 'report format (default: from --out, else md)', options: REPORT_FORMATS})(),
    out: Flags.string({char: 'o', description: 'file to write (written whole or not at all); stdout when absent'}),
    thresholds: Flags.string({description: 'scorecard thresholds file (YAML or JSON) overriding the defaults'}),
  }

  async run(): Promise<ReportResult> {
    const {args, flags} = await this.parse(Report)
    const format: ReportFormat = flags.format ?? (flags.out ? formatFromPath(flags.out) : undefined) ?? 'md'
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const {store, run} = this.openRun(flags.db, args.runId)
    const {summary, golden} = await runSummary(store, run)
    // Only the HTML report shows each regression's request in context (its traces read back whole,
    // its record from the traffic file); the JSON and Markdown reports stay as they were.
    if (format === 'html') await joinRegressionContext(store, summary)
    const card = scorecard(summary, thresholds, golden, rollbackFrequency(store.listBundleHistory()))
    // The Markdown and HTML renderers are loaded only when asked for: a JSON report needs neither.
    const text = format === 'json' ? renderJsonReport(summary, card) : (await import('../src/report/render.js')).renderReport(format, summary, card)
    const result = {run_id: summary.run.id, regressions: summary.regressions.count, scorecard: card.colour}
    const bytes = Buffer.byteLength(text)
    if (flags.out) {
      writeFileAtomic(flags.out, text)
      this.out(`wrote ${format} report of run ${result.run_id} to ${flags.out} (${bytes} bytes; ${result.regressions} regressions; scorecard ${result.scorecard})`)
    } else {
      this.write(text)
    }
    return {...result, format, out: flags.out ?? null, bytes}
  }
}
