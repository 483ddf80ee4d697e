import type {RunSummary} from '../runs/summary.js'
import type {Scorecard} from '../scorecard/scorecard.js'

/**
 * The report formats, the one a file name implies, and the JSON report, which needs neither
 * renderer: `report --format json` loads only this (render.ts loads the Markdown and HTML ones).
 */

export const REPORT_FORMATS = ['md', 'json', 'html', 'junit', 'summary'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

/** The JSON report: the summary and the scorecard, as data for other tools. */
export function renderJsonReport(summary: RunSummary, card: Scorecard): string {
  return JSON.stringify(jsonReport(summary, card), null, 2) + '\n'
}

/** The JSON report as a value (`report --json` returns it). */
export function jsonReport(summary: RunSummary, card: Scorecard): {report: 'understudy.shadow-run'; version: 1; summary: RunSummary; scorecard: Scorecard} {
  return {report: 'understudy.shadow-run', version: 1, summary, scorecard: card}
}

/** The format a file name implies, if any. */
export function formatFromPath(file: string): ReportFormat | undefined {
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase()
  if (ext === 'md' || ext === 'markdown') return 'md'
  if (ext === 'json') return 'json'
  if (ext === 'html' || ext === 'htm') return 'html'
  if (ext === 'xml') return 'junit'
  return undefined
}
