import type {Scorecard} from '../scorecard/scorecard.js'
import {renderJsonReport, type ReportFormat} from './formats.js'
import {renderHtml} from './html.js'
import {renderJunit, type JunitTestcases} from './junit.js'
import {renderMarkdown} from './markdown.js'
import {renderSummary, type SummaryOptions} from './summary.js'
import type {ListedRequest} from '../runs/diff-list.js'
import {verdictOf} from '../scorecard/render.js'
import type {RunSummary} from '../runs/summary.js'

export {formatFromPath, REPORT_FORMATS, renderJsonReport, type ReportFormat} from './formats.js'

/** What the JUnit and summary formats need besides the summary and the scorecard. */
export type ReportOptions = {junit?: {by: JunitTestcases; requests?: readonly ListedRequest[]}; summary?: SummaryOptions}

export function renderReport(format: ReportFormat, summary: RunSummary, card: Scorecard, opts: ReportOptions = {}): string {
  switch (format) {
    case 'junit':
      return renderJunit(summary, card, opts.junit ?? {by: 'cause'})
    case 'summary':
      return renderSummary(summary, card, opts.summary ?? {verdict: verdictOf(card), fullReport: null})
    case 'md':
      return renderMarkdown(summary, card)
    case 'json':
      return renderJsonReport(summary, card)
    case 'html':
      return renderHtml(summary, card)
  }
}
