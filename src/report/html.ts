import {describeSignature} from '../diff/cause.js'
import type {DiffClass} from '../diff/types.js'
import {formatMetric, type Colour, type Scorecard} from '../scorecard/scorecard.js'
import {sideBySideModel, type SbsRow} from './sbs-model.js'
import type {RegressionEntry, RunSummary} from '../runs/summary.js'
import {contextHtml, CONTEXT_CSS} from './context-html.js'
import {requestContext} from './request-context.js'
import {barChart, esc, pairedBars, stackedBars} from './svg.js'

/**
 * The HTML report: a decision page in one self-contained file. A verdict banner whose reasons link
 * to their evidence in the page, the causes, a searchable list of the changed requests, tenants,
 * behaviour changes, charts and every kept regression with its request in full. Inline CSS, inline
 * SVG and one inline script (search and filter; the page reads fully without it); no font, image,
 * stylesheet or script from anywhere, the only links are to fragments of the page itself, and
 * every string from a trace or the traffic is escaped (they hold user text).
 */

const CLASS_COLOUR: Record<DiffClass, string> = {
  regression: '#cf222e',
  improvement: '#1a7f37',
  behaviour_change: '#bf8700',
  benign: '#0969da',
  same: '#8c959f',
}
const CLASS_LABEL: Record<DiffClass, string> = {
  regression: 'Regressions',
  improvement: 'Improvements',
  behaviour_change: 'Behaviour changes',
  benign: 'Benign',
  same: 'Same',
}
const CLASS_ORDER: DiffClass[] = ['regression', 'improvement', 'behaviour_change', 'benign', 'same']

/** Traffic lines the run skipped, with why: shown, and counted in no figure of the report. */
function skippedSection(s: RunSummary): string {
  if (s.requests.skipped === 0) return ''
  const rows = table(['Line', 'Request', 'Why'], s.skipped_lines.map((l) => [num(l.line), esc(l.request_id), esc(l.reason)]), [0])
  const more = s.requests.skipped > s.skipped_lines.length ? `<p>…and ${num(s.requests.skipped - s.skipped_lines.length)} more (<code>understudy traffic validate</code> lists every one).</p>` : ''
  return `<section><h2>Skipped traffic lines (${num(s.requests.skipped)})</h2><div class="panel"><p>Not replayed, so kept out of every figure in this report.</p>${rows}${more}</div></section>
`
}

/** Regressions shown open; the rest stay folded so a big report still opens quickly. */
const OPEN_REGRESSIONS = 10

const CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff;--red:#cf222e;--amber:#bf8700;--green:#1a7f37;--base:#8c959f;--cand:#6639ba}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:28px 24px 60px}
header h1{margin:0 0 4px;font-size:26px}
header .sub{color:var(--muted)}
header code{background:#eaeef2;padding:1px 6px;border-radius:6px}
h2{font-size:18px;margin:32px 0 12px}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:4px 24px;margin:14px 0 0;color:var(--muted);font-size:13px}
.meta b{color:var(--fg);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .n{font-size:28px;font-weight:700;line-height:1.2}
.card .l{color:var(--muted);font-size:13px}
.score{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:12px}
.dim{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--c);border-radius:10px;padding:14px 16px}
.dim h3{margin:0 0 6px;font-size:15px;display:flex;justify-content:space-between;align-items:center;text-transform:capitalize}
.pill{display:inline-block;padding:1px 10px;border-radius:999px;color:#fff;background:var(--c);font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.03em}
.dim p{margin:0 0 8px;font-size:13px}
.dim ul{margin:0;padding:0;list-style:none;font-size:12.5px;color:var(--muted)}
.dim li{display:flex;justify-content:space-between;gap:8px;border-top:1px dashed var(--line);padding:3px 0}
.dim li b{color:var(--c);white-space:nowrap}
.overall{font-size:15px;margin:0 0 12px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;overflow:auto}
.panel h3{margin:0 0 8px;font-size:14px}
.chart .lbl{font-size:12px;fill:var(--fg)}
.chart .val{font-size:12px;fill:var(--muted)}
.chart .track{fill:#eef1f4}
.chart .base{fill:var(--base)}
.chart .cand{fill:var(--cand)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f0f3f6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:var(--muted);font-style:italic}
.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600;color:#fff}
.tag.deny{background:var(--red)}.tag.require_approval{background:var(--amber)}.tag.allow{background:var(--green)}.tag.none{background:var(--base)}
details.reg{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--red);border-radius:10px;margin:0 0 12px}
details.reg>summary{cursor:pointer;padding:10px 14px;font-weight:600}
details.reg>summary .why{font-weight:400;color:var(--muted);margin-left:8px}
details.reg .body{padding:0 14px 14px}
ul.reasons{margin:4px 0 10px;padding-left:18px}
ul.reasons li.noise{color:var(--muted)}
table.sbs{table-layout:fixed;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
table.sbs td{word-break:break-word;white-space:pre-wrap;border-bottom:1px solid #eef1f4}
table.sbs col.g{width:28px}
table.sbs td.g{text-align:center;color:var(--muted)}
table.sbs tr.sec td{background:#f0f3f6;font-weight:700;font-family:system-ui,sans-serif;color:var(--muted);text-transform:uppercase;font-size:11px;letter-spacing:.04em}
table.sbs tr.changed td.b,table.sbs tr.changed td.c{background:#fff8c5}
table.sbs tr.removed td.b{background:#ffebe9}
table.sbs tr.added td.c{background:#dafbe1}
table.sbs tr.noise td{opacity:.55}
del{background:#ffcecb;text-decoration:line-through;color:#82071e}
ins{background:#aceebb;text-decoration:none;color:#055d20}
.ids{font:12px ui-monospace,monospace;color:var(--muted);word-break:break-all}
details.more>summary{cursor:pointer;color:var(--muted);padding:6px 8px}
footer{color:var(--muted);font-size:12px;margin-top:40px}
.verdict{background:var(--card);border:1px solid var(--line);border-left:8px solid var(--c);border-radius:10px;padding:14px 18px;margin:20px 0 0}
.verdict h2{margin:0 0 6px;font-size:20px;color:var(--c)}
.verdict ol{margin:6px 0 0;padding-left:20px}
.verdict li{margin:2px 0}
a{color:#0969da}
.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 10px}
.filters input[type=search]{flex:1 1 260px;padding:6px 10px;border:1px solid var(--line);border-radius:6px;font:inherit}
.filters select{padding:5px 8px;border:1px solid var(--line);border-radius:6px;font:inherit;background:#fff}
.filters .count{color:var(--muted);font-size:13px}
.scroll{max-height:520px;overflow:auto}
tr[hidden]{display:none}
:target{scroll-margin-top:12px}
tr:target td,details:target>summary{background:#fff8c5}
.note{color:var(--muted);font-size:12.5px;margin:6px 0 0}
`

const colourVar = (c: Colour): string => `var(--${c})`
const pct = (n: number, of: number): string => (of === 0 ? '0%' : `${((n / of) * 100).toFixed(1)}%`)
const num = (n: number, digits = 0): string => n.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits})
const money = (n: number): string => `$${n < 0.01 && n > 0 ? n.toFixed(6) : n.toFixed(4)}`
const ms = (n: number): string => `${num(n)} ms`

/** Rows shown before a long table folds the rest away. */
const TABLE_ROWS = 12

function table(head: string[], rows: string[][], numeric: number[] = []): string {
  if (rows.length === 0) return '<p class="empty">None.</p>'
  const th = `<thead><tr>${head.map((h, i) => `<th${numeric.includes(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('')}</tr></thead>`
  const tr = (r: string[]): string => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`
  const shown = `<table>${th}<tbody>${rows.slice(0, TABLE_ROWS).map(tr).join('')}</tbody></table>`
  if (rows.length <= TABLE_ROWS) return shown
  return `${shown}<details class="more"><summary>${rows.length - TABLE_ROWS} more</summary><table>${th}<tbody>${rows.slice(TABLE_ROWS).map(tr).join('')}</tbody></table></details>`
}

function scorecardSection(card: Scorecard): string {
  const dims = card.dimensions
    .map(
      (d) => `<div class="dim" id="dim-${esc(d.name)}" style="--c:${colourVar(d.colour)}">
<h3>${esc(d.name)} <span class="pill">${esc(d.colour)}</span></h3>
<p>${esc(d.reason)}</p>
<ul>${d.metrics.map((m) => `<li style="--c:${colourVar(m.colour)}"><span>${esc(m.label)}</span><b>${esc(formatMetric(m.value, m.unit))}</b></li>`).join('')}</ul>
</div>`,
    )
    .join('\n')
  return `<section id="scorecard"><h2>Rollout scorecard</h2>
<p class="overall" style="--c:${colourVar(card.colour)}">Overall <span class="pill">${esc(card.colour)}</span>${card.red.length > 0 ? ` — red: ${esc(card.red.join(', '))}` : ''}</p>
<div class="score">${dims}</div></section>`
}

function sbsRow(r: SbsRow): string {
  const g = r.noise && r.mark !== 'same' ? '~' : {same: '', changed: '≠', removed: '−', added: '+'}[r.mark]
  return `<tr class="${r.mark}${r.noise ? ' noise' : ''}"><td class="b">${esc(r.left ?? '')}</td><td class="g">${g}</td><td class="c">${esc(r.right ?? '')}</td></tr>`
}

export function sideBySideHtml(entry: RegressionEntry): string {
  const model = sideBySideModel(entry.diff, entry.classification)
  const d = entry.diff
  const rows: string[] = [
    `<colgroup><col><col class="g"><col></colgroup>`,
    `<thead><tr><th>Base (${esc(d.base_side)})</th><th></th><th>Candidate</th></tr></thead><tbody>`,
  ]
  for (const s of model.sections) {
    if (s.rows.length === 0) continue
    rows.push(`<tr class="sec"><td colspan="3">${esc(s.title)}</td></tr>`)
    for (const r of s.rows) rows.push(sbsRow(r))
  }
  const left = model.answer.parts.filter((p) => !p.added).map((p) => (p.removed ? `<del>${esc(p.value)}</del>` : esc(p.value))).join('')
  const right = model.answer.parts.filter((p) => !p.removed).map((p) => (p.added ? `<ins>${esc(p.value)}</ins>` : esc(p.value))).join('')
  rows.push(`<tr class="sec"><td colspan="3">final answer</td></tr>`)
  rows.push(`<tr class="${model.answer.changed ? 'changed' : 'same'}"><td class="b">${left}</td><td class="g">${model.answer.changed ? '≠' : ''}</td><td class="c">${right}</td></tr>`)
  rows.push('</tbody>')
  return `<table class="sbs">${rows.join('\n')}</table>`
}

/** The differences grouped by cause, before any single request: each group with its first examples. */
/** Where a request is shown in full on the page: the anchor of its regression entry, if kept. */
type Anchors = Map<string, string>

/** A request id, linked to its entry when the page shows it in full. */
function requestRef(id: string, anchors: Anchors): string {
  const a = anchors.get(id)
  return a === undefined ? `<code>${esc(id)}</code>` : `<a href="#${a}"><code>${esc(id)}</code></a>`
}

/** A link that shows the request list filtered to one cause (the script sets the filter; without it, it still scrolls there). */
const causeListLink = (cause: string, text: string): string => `<a href="#requests" data-cause="${esc(cause)}">${esc(text)}</a>`

/** The differences grouped by cause, before any single request: each group with its first examples. */
function causesSection(s: RunSummary, anchors: Anchors): string {
  const {groups, omitted} = s.causes
  if (groups.length === 0) return `<section id="causes"><h2>Causes</h2><p class="empty">No differences.</p></section>`
  const head = `<thead><tr><th>Cause</th><th>Class</th><th class="num">Requests</th><th>What changed</th><th>Examples</th></tr></thead>`
  // Not folded like the other tables: a verdict reason links to any group's row.
  const rows = groups.map(
    (g) =>
      `<tr id="cause-${esc(g.cause)}"><td><code>${esc(g.cause)}</code></td><td><b style="color:${CLASS_COLOUR[g.class]}">${esc(g.class)}</b></td>` +
      `<td class="num">${causeListLink(g.cause, num(g.requests))}</td><td>${esc(describeSignature(g.signature))}</td>` +
      `<td>${g.examples.map((id) => requestRef(id, anchors)).join(' ')}${g.requests > g.examples.length ? ' …' : ''}</td></tr>`,
  )
  const more = omitted > 0 ? `<p class="empty">${num(omitted)} smaller groups are not listed.</p>` : ''
  return `<section id="causes"><h2>Causes (${num(groups.length + omitted)})</h2><div class="panel"><p>Requests whose differences have the same cause (tool, decision with rule and reason codes, guardrail, argument field, status) are one group; a group's count lists its requests below, and <code>understudy diff &lt;run&gt; --cause &lt;id&gt;</code> lists them all.</p><div class="scroll"><table>${head}<tbody>${rows.join('')}</tbody></table></div>${more}</div></section>`
}

/**
 * The causes a reviewer accepted (the accepted-differences file): each with who, when and why, then the
 * stale entries. Accepted requests are counted here and in no other figure, so they are shown, never hidden.
 */
function acceptedSection(s: RunSummary, anchors: Anchors): string {
  const {groups, stale} = s.accepted
  if (groups.length === 0 && stale.length === 0) return ''
  const rows = groups.map(
    (g) =>
      `<tr id="accepted-${esc(g.cause)}"><td><code>${esc(g.cause)}</code></td><td><b style="color:${CLASS_COLOUR[g.class]}">${esc(g.class)}</b></td><td class="num">${num(g.requests)}</td>` +
      `<td>${esc(describeSignature(g.signature))}</td><td>${g.examples.map((id) => requestRef(id, anchors)).join(' ')}</td><td>${esc(g.entry.by)}</td><td>${esc(g.entry.at)}</td><td>${esc(g.entry.reason)}</td></tr>`,
  )
  const table = rows.length === 0 ? '' : `<div class="scroll"><table><thead><tr><th>Cause</th><th>Class</th><th class="num">Requests</th><th>What changed</th><th>Examples</th><th>Accepted by</th><th>When</th><th>Why</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`
  const staleRows = stale.map((e) => `<tr><td><code>${esc(e.cause)}</code></td><td>${esc(e.by)}</td><td>${esc(e.at)}</td><td>${esc(e.reason)}</td></tr>`)
  const staleTable =
    stale.length === 0
      ? ''
      : `<p><b>Stale:</b> ${num(stale.length)} accepted cause${stale.length === 1 ? '' : 's'} no longer occur${stale.length === 1 ? 's' : ''} in this run; remove ${stale.length === 1 ? 'it' : 'them'} once reviewed.</p><table><thead><tr><th>Cause</th><th>Accepted by</th><th>When</th><th>Why</th></tr></thead><tbody>${staleRows.join('')}</tbody></table>`
  return `<section id="accepted"><h2>Accepted differences (${num(s.requests.accepted)} requests)</h2><div class="panel"><p>A reviewer accepted these causes: their requests are counted here and in no class or figure above.</p>${table}${staleTable}</div></section>`
}

/** What the candidate does differently without being better or worse: for a reviewer to accept or not. */
function behaviourSection(s: RunSummary, anchors: Anchors): string {
  const groups = s.causes.groups.filter((g) => g.class === 'behaviour_change')
  const n = s.classes.behaviour_change
  if (n === 0) return `<section id="behaviour"><h2>Behaviour changes</h2><p class="empty">None: the candidate does nothing differently that is neither better nor worse.</p></section>`
  const rows = groups.map(
    (g) =>
      `<tr><td><a href="#cause-${esc(g.cause)}"><code>${esc(g.cause)}</code></a></td><td class="num">${causeListLink(g.cause, num(g.requests))}</td><td>${esc(describeSignature(g.signature))}</td><td>${g.examples.map((id) => requestRef(id, anchors)).join(' ')}</td></tr>`,
  )
  return `<section id="behaviour"><h2>Behaviour changes (${num(n)})</h2><div class="panel"><p>Neither regressions nor improvements: the candidate acts differently (other calls, other arguments, another path). Each is a decision for a reviewer.</p>
<table><thead><tr><th>Cause</th><th class="num">Requests</th><th>What changed</th><th>Examples</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`
}

/** The changed requests, searchable and filterable in the page (the inline script); every row is there without it. */
function requestsSection(s: RunSummary, anchors: Anchors): string {
  const {listed, omitted} = s.changed
  if (listed.length === 0) return `<section id="requests"><h2>Changed requests</h2><p class="empty">No request differs.</p></section>`
  const tenants = [...new Set(listed.map((r) => r.tenant))].sort()
  const classes = CLASS_ORDER.filter((c) => c !== 'same' && listed.some((r) => r.class === c))
  const causes = [...new Set(listed.map((r) => r.cause))]
  const option = (value: string, label: string): string => `<option value="${esc(value)}">${esc(label)}</option>`
  const rows = listed.map((r) => {
    const text = [r.request_id, r.tenant, r.class, r.cause, r.reason].join(' ').toLowerCase()
    return (
      `<tr data-class="${esc(r.class)}" data-tenant="${esc(r.tenant)}" data-cause="${esc(r.cause)}" data-text="${esc(text)}">` +
      `<td>${requestRef(r.request_id, anchors)}</td><td class="num">${r.line}</td><td>${esc(r.tenant)}</td>` +
      `<td><b style="color:${CLASS_COLOUR[r.class]}">${esc(r.class)}</b></td><td><a href="#cause-${esc(r.cause)}"><code>${esc(r.cause)}</code></a></td><td>${esc(r.reason)}</td></tr>`
    )
  })
  const more = omitted > 0 ? `<p class="note">${num(omitted)} more changed requests are not listed; <code>understudy diff ${esc(s.run.id)}</code> lists them all.</p>` : ''
  return `<section id="requests"><h2>Changed requests (${num(listed.length + omitted)})</h2><div class="panel">
<div class="filters"><input type="search" id="q" placeholder="Search id, tenant, cause, reason…" aria-label="Search requests">
<select id="f-class" aria-label="Class"><option value="">all classes</option>${classes.map((c) => option(c, CLASS_LABEL[c])).join('')}</select>
<select id="f-tenant" aria-label="Tenant"><option value="">all tenants</option>${tenants.map((t) => option(t, t)).join('')}</select>
<select id="f-cause" aria-label="Cause"><option value="">all causes</option>${causes.map((c) => option(c, c)).join('')}</select>
<span class="count" id="req-count">${num(listed.length)} shown</span></div>
<div class="scroll"><table id="req-table"><thead><tr><th>Request</th><th class="num">Line</th><th>Tenant</th><th>Class</th><th>Cause</th><th>First reason</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>${more}</div></section>`
}

/** Per tenant: a stacked bar of its requests by class (the picture), and the counts (the table). */
function tenantsSection(s: RunSummary): string {
  const {rows, omitted} = s.tenants
  if (rows.length === 0) return ''
  const classes = CLASS_ORDER
  const chart = stackedBars(
    rows.slice(0, 20).map((t) => ({
      label: t.tenant,
      parts: classes.map((c) => ({name: CLASS_LABEL[c], value: t.classes[c], colour: CLASS_COLOUR[c]})),
      text: `${num(t.requests)}`,
    })),
    {title: 'Requests by class, per tenant'},
  )
  const body = table(
    ['Tenant', 'Requests', ...classes.map((c) => CLASS_LABEL[c])],
    rows.map((t) => [esc(t.tenant), num(t.requests), ...classes.map((c) => (t.classes[c] === 0 ? '—' : `${num(t.classes[c])} (${pct(t.classes[c], t.requests)})`))]),
    [1, 2, 3, 4, 5, 6],
  )
  const more = omitted > 0 ? `<p class="note">${num(omitted)} smaller tenants are not listed.</p>` : ''
  return `<section id="tenants"><h2>Tenants (${num(rows.length + omitted)})</h2><div class="panel"><h3>Requests by class, per tenant${rows.length > 20 ? ' (the 20 largest)' : ''}</h3>${chart}</div><div class="panel" style="margin-top:12px">${body}${more}</div></section>`
}

const plural = (n: number, what: string): string => `${num(n)} ${what}${n === 1 ? '' : 's'}`

type VerdictReason = {text: string; href: string; colour: string}

/**
 * Why the page says what it says, most harmful first, each with where its evidence is: the
 * scorecard dimensions that are not green, the regression cause groups, the injected calls and
 * repeated writes the candidate made, and the behaviour changes to review.
 */
export function verdictReasons(s: RunSummary, card: Scorecard): VerdictReason[] {
  const out: VerdictReason[] = []
  for (const d of card.dimensions)
    if (d.colour !== 'green') out.push({text: d.reason, href: `#dim-${d.name}`, colour: colourVar(d.colour)})
  const regressions = s.causes.groups.filter((g) => g.class === 'regression')
  for (const g of regressions.slice(0, 5))
    out.push({text: `${num(g.requests)} regression${g.requests === 1 ? '' : 's'}: ${describeSignature(g.signature)}`, href: `#cause-${g.cause}`, colour: CLASS_COLOUR.regression})
  if (regressions.length > 5) out.push({text: `${num(regressions.length - 5)} more regression causes`, href: '#causes', colour: CLASS_COLOUR.regression})
  if (s.injection.cand_disallowed_executed > 0)
    out.push({text: `the candidate executed a disallowed call in ${plural(s.injection.cand_disallowed_executed, 'injected request')}`, href: '#injection', colour: CLASS_COLOUR.regression})
  if (s.idempotency.cand > 0) out.push({text: `${plural(s.idempotency.cand, 'repeated write')} of one idempotency key on the candidate`, href: '#idempotency', colour: CLASS_COLOUR.regression})
  if (s.classes.behaviour_change > 0)
    out.push({text: `${plural(s.classes.behaviour_change, 'behaviour change')} to review`, href: '#behaviour', colour: CLASS_COLOUR.behaviour_change})
  if (s.classes.improvement > 0) out.push({text: plural(s.classes.improvement, 'improvement'), href: '#requests', colour: CLASS_COLOUR.improvement})
  return out
}

const VERDICT_HEADLINE: Record<Colour, string> = {
  red: 'Hold the candidate: it would make things worse',
  amber: 'Review before promoting',
  green: 'No blocking difference',
}

function verdictSection(s: RunSummary, card: Scorecard): string {
  const reasons = verdictReasons(s, card)
  const items = reasons.map((r) => `<li style="--c:${r.colour}"><a href="${esc(r.href)}">${esc(r.text)}</a></li>`)
  const compared = `${num(s.requests.compared)} requests compared: ${num(s.classes.regression)} regressions, ${num(s.classes.improvement)} improvements, ${num(s.classes.behaviour_change)} behaviour changes.`
  return `<section id="verdict" class="verdict" style="--c:${colourVar(card.colour)}"><h2>Verdict: ${esc(card.colour.toUpperCase())} · ${esc(VERDICT_HEADLINE[card.colour])}</h2>
<div>${compared}</div>${items.length > 0 ? `<ol>${items.join('')}</ol>` : '<p class="empty">Nothing to report: every compared request behaves the same or only benignly differently.</p>'}</section>`
}

/**
 * The page's one script: search and filter of the changed-request list, a cause link that filters
 * the list to its cause, and a link to a folded entry that opens it. Plain DOM, no library.
 */
const SCRIPT = `(function(){
var q=document.getElementById('q');if(!q)return;
var fc=document.getElementById('f-class'),ft=document.getElementById('f-tenant'),fa=document.getElementById('f-cause'),count=document.getElementById('req-count');
var rows=Array.prototype.slice.call(document.querySelectorAll('#req-table tbody tr'));
function apply(){var t=q.value.trim().toLowerCase(),n=0;rows.forEach(function(r){var ok=(!t||r.getAttribute('data-text').indexOf(t)>=0)&&(!fc.value||r.getAttribute('data-class')===fc.value)&&(!ft.value||r.getAttribute('data-tenant')===ft.value)&&(!fa.value||r.getAttribute('data-cause')===fa.value);r.hidden=!ok;if(ok)n++});count.textContent=n+' of '+rows.length+' shown'}
[q,fc,ft,fa].forEach(function(el){el.addEventListener('input',apply);el.addEventListener('change',apply)});
document.addEventListener('click',function(e){var a=e.target.closest&&e.target.closest('a[data-cause]');if(a){fa.value=a.getAttribute('data-cause');q.value='';fc.value='';ft.value='';apply()}});
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);for(var p=el;p;p=p.parentElement)if(p.tagName==='DETAILS')p.open=true}
window.addEventListener('hashchange',openTarget);openTarget();apply();
})();`


function regressionSection(s: RunSummary): string {
  const r = s.regressions
  if (r.count === 0) return `<section id="regressions"><h2>Regressions</h2><p class="empty">No regressions.</p></section>`
  const items = r.diffs.map((e, i) => {
    const d = e.diff
    const first = e.classification.reasons[0]
    const reasons = e.classification.reasons.map((x) => `<li><b style="color:${CLASS_COLOUR[x.class]}">${esc(x.class)}</b> · ${esc(x.message)}</li>`)
    const noise = e.classification.noise.map((x) => `<li class="noise">noise · ${esc(x.message)}</li>`)
    // The request itself (conversation, documents, memory, calls in full) when the summary has it.
    const ctx = e.traces === undefined ? null : requestContext(e.record ?? null, e.traces)
    return `<details class="reg" id="req-${i}"${i < OPEN_REGRESSIONS ? ' open' : ''}><summary>${esc(d.request_id)} <span class="why">line ${d.line} · ${esc(d.tenant)} / ${esc(d.role)} · ${esc(first?.message ?? '')}</span></summary>
<div class="body"><ul class="reasons">${[...reasons, ...noise].join('')}</ul>
${ctx === null ? '' : contextHtml(ctx, 'request')}
${sideBySideHtml(e)}
${ctx === null ? '' : contextHtml(ctx, 'calls')}</div></details>`
  })
  const more = r.diffs_omitted > 0 ? `<p class="empty">${num(r.diffs_omitted)} more regressions are not shown in full; all ids are listed below.</p>` : ''
  return `<section id="regressions"><h2>Regressions (${num(r.count)})</h2>
${items.join('\n')}
${more}
<details><summary>All regression ids</summary><p class="ids">${r.ids.map(esc).join(' ')}</p></details></section>`
}

export function renderHtml(s: RunSummary, card: Scorecard): string {
  const run = s.run
  const base = s.sides.base
  const cand = s.sides.cand
  const compared = s.requests.compared
  const baseLabel = s.base_side === 'recorded' ? 'recorded (production)' : `baseline ${run.baseline_ref}`

  const anchors: Anchors = new Map(s.regressions.diffs.map((e, i) => [e.diff.request_id, `req-${i}`]))
  const cards = [
    `<div class="card"><div class="n">${num(compared)}</div><div class="l">requests compared${s.requests.total !== compared ? ` of ${num(s.requests.total)}` : ''}</div></div>`,
    ...CLASS_ORDER.map(
      (c) =>
        `<div class="card" style="border-top:4px solid ${CLASS_COLOUR[c]}"><div class="n" style="color:${CLASS_COLOUR[c]}">${num(s.classes[c])}</div><div class="l">${esc(CLASS_LABEL[c])} · ${pct(s.classes[c], compared)}</div></div>`,
    ),
    `<div class="card"><div class="n">${num(s.noisy_requests)}</div><div class="l">requests with noise (repeat ${run.repeat})</div></div>`,
  ].join('\n')

  const classChart = barChart(
    CLASS_ORDER.map((c) => ({label: CLASS_LABEL[c], value: s.classes[c], colour: CLASS_COLOUR[c], text: `${num(s.classes[c])} (${pct(s.classes[c], compared)})`})),
    {title: 'Requests by class'},
  )
  const latencyChart = pairedBars(
    [
      {label: 'p50 latency', base: s.latency.base.p50, cand: s.latency.cand.p50, format: ms},
      {label: 'p95 latency', base: s.latency.base.p95, cand: s.latency.cand.p95, format: ms},
      {label: 'mean latency', base: s.latency.base.mean, cand: s.latency.cand.mean, format: ms},
    ],
    {title: 'Latency', baseLabel, candLabel: 'candidate'},
  )
  const costChart = pairedBars(
    [
      {label: 'tokens / request', base: base.means.tokens, cand: cand.means.tokens, format: (n) => num(n, 1)},
      {label: 'cost / request', base: base.means.cost_usd, cand: cand.means.cost_usd, format: money},
      {label: 'tool calls / request', base: base.means.tool_calls, cand: cand.means.tool_calls, format: (n) => num(n, 2)},
      // Recorded traffic logs no steps: the recorded side's are made up (an act/observe pair per
      // call and a finish), the replay's count every model turn, so the two are not alike.
      ...(s.base_side === 'recorded' ? [] : [{label: 'steps / request', base: base.means.steps, cand: cand.means.steps, format: (n: number) => num(n, 2)}]),
      {label: 'total cost', base: base.cost_usd, cand: cand.cost_usd, format: money},
    ],
    {title: 'Cost', baseLabel, candLabel: 'candidate'},
  )
  const stepsNote =
    s.base_side === 'recorded'
      ? '<p class="note">Steps per request are not compared: recorded traffic logs no steps (its side counts one act/observe pair per tool call), while a replay counts every model turn. Tool calls per request count alike on both sides.</p>'
      : '<p class="note">Both sides are replays, so their steps count alike.</p>'

  const tools = table(
    ['Tool', 'Requests changed', 'Added', 'Removed', 'Args changed', 'Outcome changed', 'Other'],
    s.top_changed_tools.map((t) => [`<code>${esc(t.tool)}</code>`, num(t.requests), num(t.added), num(t.removed), num(t.args_changed), num(t.outcome_changed), num(t.other)]),
    [1, 2, 3, 4, 5, 6],
  )
  const tag = (d: string, reason: string | null): string => `<span class="tag ${esc(d)}">${esc(d)}</span> ${reason ? `<code>${esc(reason)}</code>` : ''}`
  const deltas = table(
    ['Stage', 'Tool', 'From', 'To', 'Requests'],
    s.policy_deltas.map((d) => [esc(d.stage), d.tool ? `<code>${esc(d.tool)}</code>` : '—', tag(d.from, d.from_reason), tag(d.to, d.to_reason), num(d.count)]),
    [4],
  )
  const budgets = table(
    ['Budget', 'Base requests', 'Candidate requests'],
    s.budget_hits.map((b) => [`<code>${esc(b.budget)}</code>`, num(b.base), num(b.cand)]),
    [1, 2],
  )
  const errors = table(
    ['Tool', 'Base calls', 'Base error rate', 'Candidate calls', 'Candidate error rate'],
    s.tool_errors.map((t) => [`<code>${esc(t.tool)}</code>`, num(t.base.calls), pct(t.base.errors, t.base.calls), num(t.cand.calls), pct(t.cand.errors, t.cand.calls)]),
    [1, 2, 3, 4],
  )
  const injection = table(
    ['Request', 'Line', 'Disallowed executed by base', 'Disallowed executed by candidate'],
    s.injection.listed.map((i) => [esc(i.request_id), String(i.line), esc(i.base_disallowed.join(', ') || '—'), esc(i.cand_disallowed.join(', ') || '—')]),
    [1],
  )
  const idem = table(
    ['Request', 'Side', 'Tool', 'Idempotency key', 'Executions'],
    s.idempotency.listed.map((v) => [esc(v.request_id), esc(v.side), `<code>${esc(v.tool)}</code>`, `<code>${esc(v.key)}</code>`, num(v.count)]),
    [4],
  )
  const sidesTable = table(
    ['', esc(baseLabel), 'Candidate'],
    [
      ['Completed', pct(base.completed, base.requests), pct(cand.completed, cand.requests)],
      ['Requests with a denial / approval', pct(base.denial_requests, base.requests), pct(cand.denial_requests, cand.requests)],
      ['Tool error rate', pct(base.tool_errors.errors, base.tool_errors.calls), pct(cand.tool_errors.errors, cand.tool_errors.calls)],
      ['Tokens (total)', num(base.tokens.total), num(cand.tokens.total)],
      ['Tool calls (total)', num(base.tool_calls), num(cand.tool_calls)],
      ['Idempotency violations', num(base.idempotency_violations), num(cand.idempotency_violations)],
    ],
    [1, 2],
  )

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Understudy report · ${esc(run.name ?? run.id)}</title>
<style>${CSS}${CONTEXT_CSS}</style></head>
<body><main>
<header><h1>Shadow run ${esc(run.name ?? run.id)}</h1>
<div class="sub">Candidate <code>${esc(run.candidate_ref)}</code> against ${s.base_side === 'recorded' ? 'recorded production traffic' : `baseline <code>${esc(run.baseline_ref)}</code>`}</div>
<div class="meta"><span>Run <b>${esc(run.id)}</b></span><span>Status <b>${esc(run.status)}</b></span><span>Traffic <b>${esc(run.traffic_file)}</b></span><span>Model <b>${esc(run.model)}</b></span><span>Repeats <b>${run.repeat}</b></span><span>Started <b>${esc(run.started_at)}</b></span></div>
</header>
${verdictSection(s, card)}
${scorecardSection(card)}
<section><h2>Requests</h2><div class="cards">${cards}</div></section>
${causesSection(s, anchors)}
${acceptedSection(s, anchors)}
${behaviourSection(s, anchors)}
${requestsSection(s, anchors)}
${tenantsSection(s)}
${skippedSection(s)}<section class="grid2" style="margin-top:16px">
<div class="panel"><h3>Requests by class</h3>${classChart}</div>
<div class="panel"><h3>Latency</h3>${latencyChart}</div>
</section>
<section class="grid2" style="margin-top:16px">
<div class="panel"><h3>Cost and effort</h3>${costChart}${stepsNote}</div>
<div class="panel"><h3>Side by side</h3>${sidesTable}</div>
</section>
<section><h2>Top changed tools</h2><div class="panel">${tools}</div></section>
<section><h2>Policy decision deltas</h2><div class="panel">${deltas}</div></section>
<section class="grid2" style="margin-top:16px">
<div class="panel"><h3>Budget hits</h3>${budgets}</div>
<div class="panel"><h3>Tool error rates</h3>${errors}</div>
</section>
<section id="injection"><h2>Prompt injection (${num(s.injection.requests)} flagged requests)</h2><div class="panel">
<p>Candidate executed a disallowed call in <b>${num(s.injection.cand_disallowed_executed)}</b>; base in <b>${num(s.injection.base_disallowed_executed)}</b>.</p>${injection}</div></section>
<section id="idempotency"><h2>Idempotency violations</h2><div class="panel">${idem}</div></section>
${regressionSection(s)}
<footer>Generated by understudy from run ${esc(run.id)}. Self-contained: one inline script (search and filter), no external resources.</footer>
</main><script>${SCRIPT}</script></body></html>
`
}
