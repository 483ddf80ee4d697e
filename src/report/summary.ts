import {describeSignature} from '../diff/cause.js'
import type {RunSummary} from '../runs/summary.js'
import type {Verdict} from '../scorecard/render.js'
import type {Scorecard} from '../scorecard/scorecard.js'
import {mdCode, mdText, table} from './markdown.js'

/**
 * `report --format summary`: Markdown for a pull-request comment. Verdict, scorecard, the classes,
 * the top cause groups with counts and example requests, accepted and stale causes, and where the
 * full report is. Always under SUMMARY_MAX_BYTES (GitHub refuses a comment over 65,536
 * characters): rows and cells are capped, and while the text is still too long the cause table
 * loses rows from the bottom, saying how many it left out.
 */

export const SUMMARY_MAX_BYTES = 60_000
const TOP_CAUSES = 10
const MAX_ACCEPTED_ROWS = 20
const MAX_CELL = 240
const EXAMPLES = 3

const cell = (s: string): string => mdText(s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s)

export type SummaryOptions = {verdict: Verdict; fullReport: string | null}

export function renderSummary(s: RunSummary, card: Scorecard, opts: SummaryOptions): string {
  let causes = Math.min(TOP_CAUSES, s.causes.groups.length)
  for (;;) {
    const text = build(s, card, opts, causes)
    if (Buffer.byteLength(text) <= SUMMARY_MAX_BYTES || causes === 0) return text
    causes = Math.floor(causes / 2)
  }
}

function build(s: RunSummary, card: Scorecard, opts: SummaryOptions, causes: number): string {
  const run = s.run
  const c = s.classes
  const out: string[] = []
  const mark = {green: '🟢', amber: '🟠', red: '🔴'}[card.colour]
  out.push(`## ${mark} Understudy: ${card.colour.toUpperCase()} for ${cell(run.candidate_ref)}`, '')
  out.push(`**${mdText(opts.verdict.line)}**`, '')
  const against = s.base_side === 'recorded' ? 'recorded production traffic' : cell(run.baseline_ref)
  out.push(
    `Run ${mdCode(run.id)} against ${against}: ${s.requests.total} requests, ${s.requests.compared} compared — ` +
      `${c.regression} regression, ${c.improvement} improvement, ${c.behaviour_change} behaviour change, ${c.benign} benign, ${c.same} same` +
      (s.requests.accepted > 0 ? `; ${s.requests.accepted} accepted` : '') +
      (s.requests.skipped > 0 ? `; ${s.requests.skipped} skipped lines` : '') +
      '.',
  )
  out.push('', '### Scorecard', '')
  out.push(table(['Dimension', 'Status', 'Why'], card.dimensions.map((d) => [d.name, `**${d.colour.toUpperCase()}**`, cell(d.reason)])))
  const total = s.causes.groups.length + s.causes.omitted
  out.push('', `### Top causes (${causes} of ${total})`, '')
  out.push(
    table(
      ['Class', 'Requests', 'Cause', 'What changed', 'Examples'],
      s.causes.groups.slice(0, causes).map((g) => [
        g.class,
        String(g.requests),
        mdCode(g.cause),
        cell(describeSignature(g.signature)),
        g.examples.slice(0, EXAMPLES).map((x) => mdCode(x.slice(0, 80))).join(', ') + (g.requests > EXAMPLES ? ', …' : ''),
      ]),
    ),
  )
  if (total > causes) out.push('', `${total - causes} more cause group(s) in the full report; \`understudy diff ${mdText(run.id)} --by cause\` lists them all.`)
  const {groups, stale} = s.accepted
  if (groups.length > 0 || stale.length > 0) {
    out.push('', `### Accepted differences (${s.requests.accepted} requests, not judged)`, '')
    out.push(
      table(
        ['Cause', 'Class', 'Requests', 'Accepted by', 'Why'],
        groups.slice(0, MAX_ACCEPTED_ROWS).map((g) => [mdCode(g.cause), g.class, String(g.requests), cell(`${g.entry.by}, ${g.entry.at}`), cell(g.entry.reason)]),
      ),
    )
    if (groups.length > MAX_ACCEPTED_ROWS) out.push('', `…and ${groups.length - MAX_ACCEPTED_ROWS} more.`)
    if (stale.length > 0)
      out.push(
        '',
        `**Stale:** ${stale.length} accepted cause(s) no longer occur: ${stale
          .slice(0, MAX_ACCEPTED_ROWS)
          .map((e) => mdCode(e.cause))
          .join(', ')}${stale.length > MAX_ACCEPTED_ROWS ? ', …' : ''}.`,
      )
  }
  out.push('')
  out.push(
    opts.fullReport === null
      ? `Full report: \`understudy report ${mdText(run.id)} --format html --out report.html\``
      : // A link only for a URL Markdown cannot misread; anything else is shown as code.
        /^https?:\/\/[^\s()<>\[\]`|]+$/.test(opts.fullReport) && opts.fullReport.length <= 2000
        ? `Full report: [${mdText(opts.fullReport)}](${opts.fullReport})`
        : `Full report: ${mdCode(opts.fullReport.slice(0, 2000))}`,
  )
  return out.join('\n') + '\n'
}
