import {Flags} from '@oclif/core'
import {acceptedFlag} from '../src/cli/base-command.js'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {formatFromPath, jsonReport, REPORT_FORMATS, renderJsonReport, type ReportFormat} from '../src/report/formats.js'
import {JUNIT_TESTCASES} from '../src/report/junit.js'
import {resolveAccepted} from '../src/runs/accepted-file.js'
import {listRun, type ListedRequest} from '../src/runs/diff-list.js'
import {joinRegressionContext} from '../src/runs/request-record.js'
import {runSummary} from '../src/runs/run-summary.js'
import {verdictOf} from '../src/scorecard/render.js'
import {scorecard, type Colour} from '../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../src/scorecard/thresholds.js'
import {writeFileAtomic} from '../src/util/atomic-write.js'
import {rollbackFrequency} from '../src/rollout/history.js'

type ReportResult = {run_id: string; format: ReportFormat; out: string | null; bytes: number; regressions: number; scorecard: Colour}

export default class Report extends RunCommand {
  static override description =
    'Write a report of a run: Markdown, JSON, one self-contained HTML file with charts, the scorecard and every regression side by side, JUnit XML for CI test tabs, or a short Markdown summary for a pull-request comment.'

  static override examples = [
    '<%= config.bin %> report r20261125T1430 --format html --out report.html',
    '<%= config.bin %> report r20261125T1430 --out report.md',
    '<%= config.bin %> report r20261125T1430 --format json > report.json',
    '<%= config.bin %> report r20261125T1430 --format junit --testcase request --out understudy-junit.xml',
    '<%= config.bin %> report r20261125T1430 --format summary --full-report https://ci.example.com/artifacts/report.html > comment.md',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    format: Flags.option({description: 'report format (default: from --out, else md)', options: REPORT_FORMATS})(),
    out: Flags.string({char: 'o', description: 'file to write (written whole or not at all); stdout when absent'}),
    thresholds: Flags.string({description: 'scorecard thresholds file (YAML or JSON) overriding the defaults'}),
    testcase: Flags.option({description: 'junit: one testcase per cause group or per request', options: JUNIT_TESTCASES, default: 'cause' as const})(),
    'full-report': Flags.string({description: 'summary: the path or URL of the full report to link to'}),
    accepted: acceptedFlag,
  }

  async run(): Promise<ReportResult | (ReturnType<typeof jsonReport> & {written: ReportResult | null})> {
    const {args, flags} = await this.parse(Report)
    const format: ReportFormat = flags.format ?? (flags.out ? formatFromPath(flags.out) : undefined) ?? 'md'
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const accepted = resolveAccepted(flags.accepted)
    const {store, run} = this.openRun(flags.db, args.runId)
    const {summary, golden} = await runSummary(store, run, {accepted: accepted?.entries})
    // Only the HTML report shows each regression's request in context (its traces read back whole,
    // its record from the traffic file); the other reports stay as they were.
    if (format === 'html') await joinRegressionContext(store, summary)
    const card = scorecard(summary, thresholds, golden, rollbackFrequency(store.listBundleHistory()))
    const json = this.jsonEnabled()
    // Under --json without --out the document is the report itself; nothing else needs rendering.
    if (json && !flags.out) return {...jsonReport(summary, card), written: null}
    let requests: ListedRequest[] | undefined
    if (format === 'junit' && flags.testcase === 'request') {
      requests = []
      const kept = requests
      await listRun(store, run, 'all', (r) => kept.push(r), {withCause: true, accepted: accepted?.entries})
    }
    // The other renderers are loaded only when asked for: a JSON report needs none.
    const text =
      format === 'json'
        ? renderJsonReport(summary, card)
        : (await import('../src/report/render.js')).renderReport(format, summary, card, {
            junit: {by: flags.testcase, requests},
            summary: {verdict: verdictOf(card, flags.thresholds ?? null), fullReport: flags['full-report'] ?? null},
          })
    const result = {run_id: summary.run.id, regressions: summary.regressions.count, scorecard: card.colour}
    const bytes = Buffer.byteLength(text)
    if (flags.out) {
      writeFileAtomic(flags.out, text)
      this.out(`wrote ${format} report of run ${result.run_id} to ${flags.out} (${bytes} bytes; ${result.regressions} regressions; scorecard ${result.scorecard})`)
    } else {
      this.write(text)
    }
    const written = {...result, format, out: flags.out ?? null, bytes}
    return json ? {...jsonReport(summary, card), written} : written
  }
}
