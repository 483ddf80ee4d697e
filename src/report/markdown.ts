import {describeSignature} from '../diff/cause.js'
import {formatMetric, type Scorecard} from '../scorecard/scorecard.js'
import {renderSideBySide} from './side-by-side.js'
import type {RunSummary} from '../runs/summary.js'

/** The Markdown report. User text is escaped for tables and inline use; diffs go in fenced blocks. */

/** Regressions shown with a full side-by-side diff; the rest are listed by id and reason. */
const MD_FULL_DIFFS = 50

/** Table-cell and inline safe: no pipes, no newlines, no raw HTML. */
export function mdText(s: unknown): string {
  return String(s)
    .replace(/\\/g, '\\\\')
    .replace(/[|`*_[\]]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n/g, ' ')
}

/** Inline code: backslashes are literal there, so only what would end the span or the row is replaced. */
export function mdCode(s: unknown): string {
  return '`' + String(s).replace(/`/g, "'").replace(/\|/g, '¦').replace(/\r?\n/g, ' ') + '`'
}

function fence(body: string, lang = 'text'): string {
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length))
  const f = '`'.repeat(longest + 1)
  return `${f}${lang}\n${body.endsWith('\n') ? body : body + '\n'}${f}`
}

export function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return '_None._'
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

const pct = (n: number, of: number): string => (of === 0 ? '0%' : `${((n / of) * 100).toFixed(1)}%`)
const change = (b: number, c: number): string => (b === 0 ? (c === 0 ? '0' : 'new') : `${c >= b ? '+' : ''}${(((c - b) / b) * 100).toFixed(1)}%`)
const n2 = (n: number, d = 2): string => n.toFixed(d)

export function renderMarkdown(s: RunSummary, card: Scorecard): string {
  const run = s.run
  const base = s.sides.base
  const cand = s.sides.cand
  const compared = s.requests.compared
  const out: string[] = []
  out.push(`# Understudy shadow report: ${mdText(run.name ?? run.id)}`)
  out.push('')
  out.push(
    table(
      ['', ''],
      [
        ['Run', `${mdCode(run.id)} (${run.status})`],
        ['Candidate', mdText(run.candidate_ref)],
        ['Compared against', s.base_side === 'recorded' ? 'recorded production traffic' : mdText(run.baseline_ref)],
        ['Traffic', `${mdText(run.traffic_file)} (${s.requests.total} requests, ${compared} compared)`],
        ['Model', mdText(run.model)],
        ['Repeats', String(run.repeat)],
      ],
    ),
  )
  out.push('', `## Scorecard: ${card.colour.toUpperCase()}`, '')
  out.push(table(['Dimension', 'Status', 'Why'], card.dimensions.map((d) => [d.name, `**${d.colour.toUpperCase()}**`, mdText(d.reason)])))
  out.push('')
  out.push(
    table(
      ['Metric', 'Value', 'Amber', 'Red', 'Status'],
      card.dimensions.flatMap((d) =>
        d.metrics.map((m) => [
          `${d.name}: ${mdText(m.label)}`,
          formatMetric(m.value, m.unit),
          m.not_judged ? '—' : `${m.direction === 'max' ? '>' : '<'} ${formatMetric(m.limits.amber, m.unit)}`,
          m.not_judged ? '—' : `${m.direction === 'max' ? '>' : '<'} ${formatMetric(m.limits.red, m.unit)}`,
          m.not_judged ? `not judged: ${mdText(m.not_judged)}` : m.colour,
        ]),
      ),
    ),
  )

  out.push('', '## Requests by class', '')
  out.push(table(['Class', 'Requests', 'Share'], (['regression', 'improvement', 'behaviour_change', 'benign', 'same'] as const).map((c) => [c, String(s.classes[c]), pct(s.classes[c], compared)])))
  out.push('', `${s.noisy_requests} request(s) had differences that also vary between repeats (noise, excluded from classification).`)
  if (s.requests.missing_base + s.requests.missing_cand > 0)
    out.push(`${s.requests.missing_base} request(s) lack a base trace and ${s.requests.missing_cand} a candidate trace; they are not compared.`)
  out.push('', `## Causes (${s.causes.groups.length + s.causes.omitted})`, '')
  out.push(
    'Requests whose differences have the same cause (tool, decision with rule and reason codes, guardrail, argument field, status) are one group; `understudy diff <run> --cause <id>` lists its requests.',
    '',
  )
  out.push(
    table(
      ['Cause', 'Class', 'Requests', 'What changed', 'Examples'],
      s.causes.groups.map((g) => [
        mdCode(g.cause),
        g.class,
        String(g.requests),
        mdText(describeSignature(g.signature)),
        g.examples.map(mdCode).join(', ') + (g.requests > g.examples.length ? ', …' : ''),
      ]),
    ),
  )
  if (s.causes.omitted > 0) out.push('', `…and ${s.causes.omitted} smaller groups.`)
  out.push(...acceptedMarkdown(s))
  if (s.requests.skipped > 0) {
    out.push('', `## Skipped traffic lines (${s.requests.skipped})`, '')
    out.push('Not replayed, so kept out of every figure in this report.', '')
    out.push(table(['Line', 'Request', 'Why'], s.skipped_lines.map((l) => [String(l.line), mdText(l.request_id), mdText(l.reason)])))
    if (s.requests.skipped > s.skipped_lines.length) out.push('', `…and ${s.requests.skipped - s.skipped_lines.length} more (\`understudy traffic validate\` lists every one).`)
  }

  out.push('', '## Cost and latency', '')
  out.push(
    table(
      ['Metric', 'Base', 'Candidate', 'Change'],
      [
        ['Tokens / request', n2(base.means.tokens, 1), n2(cand.means.tokens, 1), change(base.means.tokens, cand.means.tokens)],
        ['Cost / request (USD)', n2(base.means.cost_usd, 6), n2(cand.means.cost_usd, 6), change(base.means.cost_usd, cand.means.cost_usd)],
        ['Total cost (USD)', n2(base.cost_usd, 4), n2(cand.cost_usd, 4), change(base.cost_usd, cand.cost_usd)],
        ['Tool calls / request', n2(base.means.tool_calls), n2(cand.means.tool_calls), change(base.means.tool_calls, cand.means.tool_calls)],
        ['Latency p50 (ms)', n2(s.latency.base.p50, 0), n2(s.latency.cand.p50, 0), change(s.latency.base.p50, s.latency.cand.p50)],
        ['Latency p95 (ms)', n2(s.latency.base.p95, 0), n2(s.latency.cand.p95, 0), change(s.latency.base.p95, s.latency.cand.p95)],
        ['Completed', pct(base.completed, base.requests), pct(cand.completed, cand.requests), ''],
        ['Requests with a denial / approval', pct(base.denial_requests, base.requests), pct(cand.denial_requests, cand.requests), ''],
        ['Tool error rate', pct(base.tool_errors.errors, base.tool_errors.calls), pct(cand.tool_errors.errors, cand.tool_errors.calls), ''],
      ],
    ),
  )

  out.push('', '## Top changed tools', '')
  out.push(
    table(
      ['Tool', 'Requests', 'Added', 'Removed', 'Args changed', 'Outcome changed'],
      s.top_changed_tools.map((t) => [mdCode(t.tool), String(t.requests), String(t.added), String(t.removed), String(t.args_changed), String(t.outcome_changed)]),
    ),
  )
  out.push('', '## Policy decision deltas', '')
  out.push(
    table(
      ['Stage', 'Tool', 'From', 'To', 'Requests'],
      s.policy_deltas.map((d) => [
        mdText(d.stage),
        d.tool ? mdCode(d.tool) : '-',
        `${d.from}${d.from_reason ? ` (${mdText(d.from_reason)})` : ''}`,
        `${d.to}${d.to_reason ? ` (${mdText(d.to_reason)})` : ''}`,
        String(d.count),
      ]),
    ),
  )
  out.push('', '## Budget hits', '')
  out.push(table(['Budget', 'Base', 'Candidate'], s.budget_hits.map((b) => [mdText(b.budget), String(b.base), String(b.cand)])))
  out.push('', '## Tool error rates', '')
  out.push(
    table(
      ['Tool', 'Base calls', 'Base errors', 'Candidate calls', 'Candidate errors'],
      s.tool_errors.map((t) => [mdText(t.tool), String(t.base.calls), pct(t.base.errors, t.base.calls), String(t.cand.calls), pct(t.cand.errors, t.cand.calls)]),
    ),
  )
  out.push('', `## Prompt injection`, '')
  out.push(
    `${s.injection.requests} request(s) flagged for injection; a disallowed call executed in ${s.injection.cand_disallowed_executed} on the candidate and ${s.injection.base_disallowed_executed} on the base.`,
  )
  if (s.injection.listed.length > 0) {
    out.push('')
    out.push(
      table(
        ['Request', 'Line', 'Base executed', 'Candidate executed'],
        s.injection.listed.map((i) => [mdText(i.request_id), String(i.line), mdText(i.base_disallowed.join(', ') || '-'), mdText(i.cand_disallowed.join(', ') || '-')]),
      ),
    )
  }
  out.push('', '## Idempotency violations', '')
  out.push(
    table(
      ['Request', 'Side', 'Tool', 'Key', 'Executions'],
      s.idempotency.listed.map((v) => [mdText(v.request_id), v.side, mdText(v.tool), mdText(v.key), String(v.count)]),
    ),
  )

  out.push('', `## Regressions (${s.regressions.count})`, '')
  if (s.regressions.count === 0) out.push('_None._')
  for (const e of s.regressions.diffs) {
    const first = e.classification.reasons[0]
    out.push(`- ${mdCode(e.diff.request_id)} (line ${e.diff.line}): ${mdText(first?.message ?? '')}`)
  }
  if (s.regressions.diffs_omitted > 0) out.push(`- … and ${s.regressions.diffs_omitted} more: ${s.regressions.ids.slice(s.regressions.diffs.length).map(mdText).join(', ')}`)
  for (const e of s.regressions.diffs.slice(0, MD_FULL_DIFFS)) {
    out.push('', `### ${mdText(e.diff.request_id)}`, '')
    out.push(fence(renderSideBySide(e.diff, {width: 140, color: false, classification: e.classification})))
  }
  return out.join('\n') + '\n'
}

/** The accepted differences (src/diff/accepted.ts): each accepted cause with who, when and why, then the stale entries. Empty when none. */
export function acceptedMarkdown(s: RunSummary): string[] {
  const {groups, stale} = s.accepted
  if (groups.length === 0 && stale.length === 0) return []
  const out = ['', `## Accepted differences (${s.requests.accepted} requests)`, '']
  out.push('A reviewer accepted these causes: their requests are counted here and in no class or figure above.', '')
  out.push(
    table(
      ['Cause', 'Class', 'Requests', 'What changed', 'Accepted by', 'When', 'Why'],
      groups.map((g) => [mdCode(g.cause), g.class, String(g.requests), mdText(describeSignature(g.signature)), mdText(g.entry.by), mdText(g.entry.at), mdText(g.entry.reason)]),
    ),
  )
  if (stale.length > 0) {
    out.push('', `**Stale:** ${stale.length} accepted cause(s) no longer occur in this run; remove them once reviewed.`, '')
    out.push(table(['Cause', 'Accepted by', 'When', 'Why'], stale.map((e) => [mdCode(e.cause), mdText(e.by), mdText(e.at), mdText(e.reason)])))
  }
  return out
}
