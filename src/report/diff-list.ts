import type {AcceptedEntry} from '../diff/accepted.js'
import {type CauseGroup, describeSignature} from '../diff/cause.js'
import {CLASSES, type DiffClass} from '../diff/types.js'
import type {ListedRequest, ListTotals} from '../runs/diff-list.js'
import {terminalText} from '../util/terminal-text.js'

/** `understudy diff`'s listing as text: one line per listed request, then the counts. */

const CLASS_COLOUR: Record<DiffClass, string> = {regression: '31', improvement: '32', behaviour_change: '33', benign: '36', same: '2'}

/** One listed request: its class (coloured when asked), id, traffic line, the first two reasons and how many more. */
export function listLine(r: ListedRequest, colour: boolean): string {
  const label = r.class.padEnd(16)
  // Ids and reasons are data (traffic, tool names, arguments): escaped before the line is painted.
  const shown = r.reasons.slice(0, 2).map((x) => terminalText(x.message))
  const more = r.reasons.length > 2 ? ` (+${r.reasons.length - 2} more)` : ''
  const noise = r.noise.length > 0 ? ` [${r.noise.length} noise]` : ''
  const accepted = r.accepted === undefined ? '' : ` [accepted by ${terminalText(r.accepted.by)}: ${terminalText(r.accepted.reason)}]`
  return `${colour ? `\u001b[${CLASS_COLOUR[r.class]}m${label}\u001b[0m` : label} ${terminalText(r.request_id)} (line ${r.line}) ${shown.join('; ')}${more}${noise}${accepted}`.trimEnd()
}

/** The line after the listing: how many were listed of how many compared, per class, and how many could not be compared. */
export function listSummaryLine(listed: number, totals: ListTotals, baseSide: string): string {
  const {counts, incomplete, skipped} = totals
  const compared = CLASSES.reduce((n, c) => n + counts[c], 0)
  return (
    `${listed} listed of ${compared} compared against ${baseSide}: ` +
    CLASSES.filter((c) => counts[c] > 0)
      .map((c) => `${counts[c]} ${c}`)
      .join(', ') +
    (totals.accepted > 0 ? `; ${totals.accepted} accepted (a reviewer accepted their cause; counted in no class)` : '') +
    (incomplete > 0 ? `; ${incomplete} not compared (a side is missing)` : '') +
    (skipped > 0 ? `; ${skipped} skipped traffic line${skipped === 1 ? '' : 's'} (malformed or a repeated id; \`understudy report\` lists why)` : '')
  )
}

/** One cause group: its class, id, request count, what the cause is and its first example requests. */
export function causeLine(g: CauseGroup, colour: boolean, accepted?: AcceptedEntry): string {
  const label = g.class.padEnd(16)
  const more = g.requests > g.examples.length ? ', …' : ''
  // Signatures hold tool names, rule ids and reason codes from bundles and traffic: escaped like any data.
  return `${colour ? `\u001b[${CLASS_COLOUR[g.class]}m${label}\u001b[0m` : label} ${g.cause} ${String(g.requests).padStart(6)}  ${terminalText(describeSignature(g.signature))}  (e.g. ${g.examples.map((x) => terminalText(x)).join(', ')}${more})${accepted === undefined ? '' : `  [accepted by ${terminalText(accepted.by)}: ${terminalText(accepted.reason)}]`}`
}
