import type {Scorecard} from '../scorecard/scorecard.js'
import {renderJsonReport, type ReportFormat} from './formats.js'
import {renderHtml} from './html.js'
import {renderMarkdown} from './markdown.js'
import type {RunSummary} from '../runs/summary.js'

export {formatFromPath, REPORT_FORMATS, renderJsonReport, type ReportFormat} from './formats.js'

export function renderReport(format: ReportFormat, summary: RunSummary, card: Scorecard): string {
  switch (format) {
    case 'md':
      return renderMarkdown(summary, card)
    case 'json':
      return renderJsonReport(summary, card)
    case 'html':
      return renderHtml(summary, card)
  }
}
