import {admissionText, foldNote, messageLabel, type Admission, type ContextCall, type Folded, type RequestContext} from './request-context.js'
import {esc} from './svg.js'

/**
 * The request context (request-context.ts) as HTML, for the report: long text shows its first
 * lines and a fold that says how much it holds; every string escaped.
 */

export const CONTEXT_CSS = `
.ctx{margin:0 0 12px}
.ctx h4{margin:12px 0 6px;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.ctx pre{margin:0;white-space:pre-wrap;word-break:break-word;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.ctx .msg{border-left:3px solid var(--line);padding:2px 10px;margin:0 0 6px}
.ctx .msg.user{border-color:var(--cand)}.ctx .msg.system{border-color:var(--base)}.ctx .msg.assistant{border-color:var(--green)}
.ctx .msg b,.ctx .doc b{font-size:12px}
.ctx .doc{border:1px solid var(--line);border-radius:8px;padding:6px 10px;margin:0 0 6px}
.ctx .doc.injected{border-color:var(--red);background:#fff5f5}
.ctx .meta2{color:var(--muted);font-size:12px}
.ctx .warn{color:var(--red);font-weight:600;font-size:12px}
.ctx mark{background:#ffcecb;color:#82071e}
.trust{display:inline-block;padding:0 6px;border-radius:4px;font-size:11px;font-weight:700;color:#fff}
.trust.trusted{background:var(--green)}.trust.internal{background:#0969da}.trust.untrusted{background:var(--amber)}
.adm.dropped{color:var(--red)}
details.fold>summary{cursor:pointer;color:var(--muted);font-size:12px}
.calls{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.calls .call{border-top:1px dashed var(--line);padding:4px 0}
`

/** `text` escaped, with the characters from `mark.from` to `mark.to` (when inside it) in a <mark>. */
function marked(text: string, mark: {from: number; to: number} | null): string {
  if (mark === null || mark.from >= text.length) return esc(text)
  const to = Math.min(mark.to, text.length)
  return `${esc(text.slice(0, mark.from))}<mark>${esc(text.slice(mark.from, to))}</mark>${esc(text.slice(to))}`
}

function foldedHtml(f: Folded, mark: {from: number; to: number} | null = null): string {
  if (!f.folded) return `<pre>${marked(f.text, mark)}</pre>`
  return `<pre>${marked(f.preview, mark)}</pre><details class="fold"><summary>⋯ ${esc(foldNote(f))}: show all ${esc(f.text.length.toLocaleString('en-US'))} characters</summary><pre>${marked(f.text, mark)}</pre></details>`
}

function admissionHtml(label: string, a: Admission): string {
  return `<span class="adm${a !== null && !a.admitted ? ' dropped' : ''}">${esc(label)} ${esc(admissionText(a))}</span>`
}

function callHtml(c: ContextCall): string {
  const head = `#${c.seq} step ${c.step}${c.turn === null ? '' : ` turn ${c.turn}`} <b>${esc(c.name)}</b> → ${esc(c.outcome)}${c.executed ? '' : ' (not executed)'}${c.attempt > 1 ? ` [attempt ${c.attempt}]` : ''}`
  const error = c.error ? `<div class="warn">error: ${esc(c.error)}</div>` : ''
  const result = c.result === null ? '' : `<div class="meta2">result</div>${foldedHtml(c.result)}`
  return `<div class="call"><div>${head}</div>${error}<div class="meta2">arguments</div>${foldedHtml(c.args)}${result}</div>`
}

/**
 * `request`: what the request was about (conversation, documents, memory, guardrail findings), shown
 * before the diff; `calls`: each side's tool calls in full, shown after it.
 */
export function contextHtml(ctx: RequestContext, part: 'request' | 'calls'): string {
  if (part === 'calls') return callsHtml(ctx)
  const out: string[] = ['<div class="ctx">']
  if (!ctx.recorded) out.push('<p class="empty">The traffic record was not available: conversation, documents and memory are not shown.</p>')
  if (ctx.conversation.length > 0) {
    out.push('<h4>Conversation</h4>')
    for (const m of ctx.conversation) out.push(`<div class="msg ${esc(m.role)}"><b>${esc(messageLabel(m))}</b>${foldedHtml(m.content)}</div>`)
  }
  if (ctx.documents.length > 0) {
    out.push('<h4>Retrieved documents</h4>')
    for (const d of ctx.documents) {
      const injected = d.injection.length > 0 || d.attacks.length > 0
      const warn = [
        ...(d.injection.length > 0 ? [`injection pattern: ${d.injection.join(', ')}${d.injected_at === null ? '' : ` at character ${d.injected_at.offset} (marked)`}`] : []),
        ...(d.attacks.length > 0 ? [`known attack: ${d.attacks.join(', ')}`] : []),
      ]
      const mark = d.injected_at === null ? null : {from: d.injected_at.offset, to: d.injected_at.offset + d.injected_at.excerpt.length}
      out.push(
        `<div class="doc${injected ? ' injected' : ''}"><b>${esc(d.id)}</b> <span class="trust ${esc(d.trust)}">${esc(d.trust)}</span> ` +
          `<span class="meta2">${esc(d.source)}${d.tenant === null ? '' : ` · tenant ${esc(d.tenant)}`}${d.score === null ? '' : ` · score ${esc(d.score)}`} · ${admissionHtml('base', d.admission.base)} · ${admissionHtml('candidate', d.admission.cand)}</span>` +
          warn.map((w) => `<div class="warn">⚠ ${esc(w)}</div>`).join('') +
          foldedHtml(d.content, mark) +
          '</div>',
      )
    }
  }
  if (ctx.memory.length > 0) {
    out.push('<h4>Memory in scope</h4>')
    for (const e of ctx.memory)
      out.push(
        `<div class="doc"><b>${esc(e.key)}</b> <span class="meta2">owner ${esc(e.owner)} · written ${esc(e.written_at)}${e.provenance === null ? '' : ` · ${esc(e.provenance)}`} · ${admissionHtml('base', e.admission.base)} · ${admissionHtml('candidate', e.admission.cand)}</span>${foldedHtml(e.value)}</div>`,
      )
  }
  if (ctx.findings.length > 0) {
    out.push('<h4>Guardrail findings</h4><table><thead><tr><th>Side</th><th>Stage</th><th>Check</th><th>Severity</th><th>Detail</th></tr></thead><tbody>')
    for (const f of ctx.findings)
      out.push(`<tr><td>${f.side === 'base' ? 'base' : 'candidate'}</td><td>${esc(f.stage)}</td><td><code>${esc(f.check)}</code></td><td>${esc(f.severity)}</td><td>${esc(f.detail)}</td></tr>`)
    out.push('</tbody></table>')
  }
  out.push('</div>')
  return out.join('\n')
}

function callsHtml(ctx: RequestContext): string {
  if (ctx.calls.base.length === 0 && ctx.calls.cand.length === 0) return ''
  const side = (calls: ContextCall[]): string => (calls.length === 0 ? '<p class="empty">No tool calls.</p>' : calls.map(callHtml).join(''))
  return `<div class="ctx"><h4>Tool calls in full</h4><div class="calls"><div><div class="meta2">base</div>${side(ctx.calls.base)}</div><div><div class="meta2">candidate</div>${side(ctx.calls.cand)}</div></div></div>`
}
