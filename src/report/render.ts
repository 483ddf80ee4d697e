import type {Scorecard} from '../scorecard/scorecard.js'
import {renderHtml} from './html.js'
import {renderMarkdown} from './markdown.js'
import type {RunSummary} from '../runs/summary.js'

export const REPORT_FORMATS = ['md', 'json', 'html'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

/** The JSON report: the summary and the scorecard, as data for other tools. */
export function renderJsonReport(summary: RunSummary, card: Scorecard): string {
  return JSON.stringify({report: 'understudy.shadow-run', version: 1, summary, scorecard: card}, null, 2) + '\n'
}

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

/** The format a file name implies, if any. */
export function formatFromPath(file: string): ReportFormat | undefined {
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase()
  if (ext === 'md' || ext === 'markdown') return 'md'
  if (ext === 'json') return 'json'
  if (ext === 'html' || ext === 'htm') return 'html'
  return undefined
}
