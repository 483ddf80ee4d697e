import {mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {classifyRequest} from '../../src/diff/classify.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import {renderReport} from '../../src/report/render.js'
import {sideBySideModel} from '../../src/report/sbs-model.js'
import {renderSideBySide} from '../../src/report/side-by-side.js'
import {summarizeRun} from '../../src/runs/summary.js'
import {writeFileAtomic} from '../../src/util/atomic-write.js'
import {scorecard} from '../../src/scorecard/scorecard.js'
import {baseTrace, decision, recordedRun, toolCall, trace} from '../factories/index.js'
import {MemoryStore} from './memory-store.js'
import {smallRun} from './small-run.js'

const PLANTED = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'

function hostileRun() {
  const {store, runId} = smallRun()
  store.writeTraces(runId, [
    baseTrace({request_id: `evil-${PLANTED}`, line: 20, tenant: PLANTED, tool_calls: [toolCall('lookup_order', {q: PLANTED})]}),
    trace({
      request_id: `evil-${PLANTED}`,
      line: 20,
      tenant: PLANTED,
      final_answer: `Here you go ${PLANTED}`,
      tool_calls: [toolCall('lookup_order', {q: PLANTED}), toolCall('send_note', {body: PLANTED}, {risk: 'write_low'})],
      policy_decisions: [decision('mid_run', 'send_note', 'deny', 'NOTE_BLOCKED')],
    }),
  ])
  const summary = summarizeRun(store, runId)
  return {summary, card: scorecard(summary)}
}

describe('HTML report', () => {
  const {summary, card} = hostileRun()
  const html = renderReport('html', summary, card)

  it('is one self-contained document: one inline script, no URLs, no external resources, links only within the page', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).not.toMatch(/https?:\/\//i)
    // exactly one script, inline (ours: search and filter), loading nothing
    expect(html.match(/<script/gi)).toHaveLength(1)
    expect(html).toContain('<script>(function(){')
    expect(html).not.toMatch(/<(link|iframe|object|embed)\b/i)
    // every tag in the file is ours (user text is escaped), and none loads anything
    const tags = html.match(/<[a-z][^>]*>/gi) ?? []
    expect(tags.length).toBeGreaterThan(100)
    // (attribute values are escaped, so a quote ends them: what is left are the attribute names)
    for (const tag of tags) expect(tag.replace(/"[^"]*"/g, '""')).not.toMatch(/\s(src|xlink:href|action|srcset|on[a-z]+)\s*=/i)
    // a link only ever goes to an element of this page
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]))
    const hrefs = [...html.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]!)
    expect(hrefs.length).toBeGreaterThan(5)
    for (const href of hrefs) {
      expect(href).toMatch(/^#/)
      expect(ids.has(href.slice(1)), href).toBe(true)
    }
    expect(html).not.toMatch(/url\(|@import/i)
    expect(html).toMatch(/<style>/)
    expect(html).toMatch(/<svg role="img"/)
  })

  // #20: recorded traffic logs no steps (its side counts an act/observe pair per call), so its steps
  // are never set against a replay's (3.37 → 9.80 on the quick start); tool calls count alike.
  it('compares steps per request only between two replays, and says so', () => {
    expect(summary.base_side).toBe('recorded')
    expect(html).not.toContain('steps / request')
    expect(html).toContain('tool calls / request')
    expect(html).toContain('Steps per request are not compared: recorded traffic logs no steps')
    const d = summary.regressions.diffs[0]!
    expect(sideBySideModel(d.diff, d.classification).sections.find((x) => x.title === 'metrics')!.rows.some((r) => r.left?.startsWith('steps'))).toBe(false)
    const replay = {...d.diff, base_side: 'baseline' as const}
    expect(sideBySideModel(replay, d.classification).sections.find((x) => x.title === 'metrics')!.rows.some((r) => r.left?.startsWith('steps'))).toBe(true)
  })

  it('opens on a verdict whose reasons link to the cause groups, and lists every changed request with its tenant', () => {
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('<h2>Rollout scorecard'))
    for (const g of summary.causes.groups.filter((x) => x.class === 'regression')) expect(html).toContain(`<a href="#cause-${g.cause}">`)
    const rows = html.match(/<tr data-class="[a-z_]+" data-tenant="[^"]*" data-cause="[0-9a-f]+"/g) ?? []
    expect(rows).toHaveLength(summary.requests.compared - summary.classes.same)
    expect(html).toContain('aria-label="Requests by class, per tenant"')
  })

  it('escapes user text planted in answers, ids, tenants and arguments', () => {
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;')
    expect(html).not.toContain('<img')
    expect(html).not.toContain('onerror=alert(1)>')
  })

  it('shows the scorecard, the class chart and every regression with a side-by-side table', () => {
    for (const d of ['safety', 'reliability', 'cost', 'quality']) expect(html).toContain(`<h3>${d} <span class="pill">`)
    expect(html).toContain('aria-label="Requests by class"')
    expect(html).toContain('aria-label="Latency"')
    const tables = html.match(/<table class="sbs">/g) ?? []
    expect(tables).toHaveLength(summary.regressions.diffs.length)
    expect(summary.regressions.count).toBeGreaterThan(0)
    for (const id of summary.regressions.ids.filter((i) => !i.startsWith('evil'))) expect(html).toContain(`<summary>${id} `)
    expect(html).toContain('REFUND_OVER_LIMIT')
  })
})

describe('Markdown and JSON reports', () => {
  const {summary, card} = hostileRun()

  it('Markdown escapes user text outside code blocks', () => {
    const md = renderReport('md', summary, card)
    let inFence = false
    for (const line of md.split('\n')) {
      if (/^```/.test(line)) inFence = !inFence
      // inline code spans show their text literally, so only what is outside them could become HTML
      else if (!inFence) expect(line.replace(/`[^`]*`/g, '')).not.toMatch(/<script|<img/i)
    }
    expect(md).toContain('## Scorecard: RED')
    expect(md).toContain('| regression | 5 |')
    expect(md).toContain('REFUND\\_OVER\\_LIMIT')
  })

  // #19: the reports open on causes, before any single request, each with its examples.
  it('Markdown and HTML open on the causes, each group with its id, count and examples, before the regressions', () => {
    const {groups} = summary.causes
    const regression = groups.find((g) => g.class === 'regression')!
    expect(groups.reduce((n, g) => n + g.requests, 0)).toBe(summary.requests.compared - summary.classes.same)
    const md = renderReport('md', summary, card)
    expect(md.indexOf('## Causes')).toBeGreaterThan(md.indexOf('## Requests by class'))
    expect(md.indexOf('## Causes')).toBeLessThan(md.indexOf('## Regressions'))
    expect(md).toContain(`| \`${regression.cause}\` | regression | ${regression.requests} |`)
    for (const id of regression.examples.filter((i) => !i.startsWith('evil'))) expect(md).toContain(`\`${id}\``)
    const html = renderReport('html', summary, card)
    expect(html.indexOf('<h2>Causes')).toBeLessThan(html.indexOf('<h2>Regressions'))
    expect(html).toContain(`<code>${regression.cause}</code>`)
    expect(html).toContain('REFUND_OVER_LIMIT')
  })

  it('JSON carries the summary and the scorecard', () => {
    const doc = JSON.parse(renderReport('json', summary, card))
    expect(doc.summary.regressions.ids).toEqual(summary.regressions.ids)
    expect(doc.scorecard.dimensions.map((d: {name: string}) => d.name)).toEqual(['safety', 'reliability', 'cost', 'quality'])
  })
})

describe('renderSideBySide', () => {
  const b = baseTrace({tool_calls: [toolCall('lookup_order', {id: 1}), toolCall('issue_refund', {amount: 20}, {risk: 'write_high'})], final_answer: 'Refund of 20 sent.'})
  const c = trace({tool_calls: [toolCall('lookup_order', {id: 1}), toolCall('search_kb', {q: 'x'}), toolCall('issue_refund', {amount: 200}, {risk: 'write_high'})], final_answer: 'Refund of 200 sent.'})
  const d = diffRequest(b, c)

  it('aligns base and candidate in two columns with a gutter that marks each row', () => {
    const text = renderSideBySide(d, {width: 100, classification: classifyRequest(d)})
    const lines = text.split('\n')
    const col = Math.floor((100 - 3) / 2)
    // rows, not the classification's reason lines above them
    const row = (needle: string) => lines.find((l) => l.includes(needle) && !l.startsWith('  - '))!
    expect(row('search_kb')[col + 1]).toBe('>')
    expect(row('search_kb').slice(0, col).trim()).toBe('')
    expect(row('.amount')[col + 1]).toBe('≠')
    expect(row('.amount')).toMatch(/\.amount = 20 +≠ +\.amount = 200/)
    expect(row('lookup_order')[col + 1]).toBe('│')
    expect(text).toContain('class: regression')
    expect(text).not.toContain('\u001b[')
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(100)
  })

  it('colours only when asked, and never lets control characters from traces through', () => {
    expect(renderSideBySide(d, {color: true})).toContain('\u001b[')
    const evil = diffRequest(baseTrace({final_answer: 'a'}), trace({final_answer: 'b\u001b[2J'}))
    expect(renderSideBySide(evil, {color: false})).not.toContain('\u001b')
  })
})

describe('writeFileAtomic', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-report-'))

  it('replaces the file whole', () => {
    const file = path.join(dir, 'a.html')
    writeFileSync(file, 'old')
    writeFileAtomic(file, ['new ', 'content'])
    expect(readFileSync(file, 'utf8')).toBe('new content')
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('leaves the old file untouched and no temporary file behind when writing fails half way', () => {
    const file = path.join(dir, 'b.html')
    writeFileSync(file, 'previous report')
    function* chunks() {
      yield '<html>half a report'
      throw new Error('renderer crashed')
    }
    expect(() => writeFileAtomic(file, chunks())).toThrow('renderer crashed')
    expect(readFileSync(file, 'utf8')).toBe('previous report')
    expect(readdirSync(dir).filter((f) => f.includes('b.html') && f !== 'b.html')).toEqual([])
  })

  it('creates missing directories and fails with a one-line message when it cannot write', () => {
    writeFileAtomic(path.join(dir, 'x', 'y', 'c.md'), 'ok')
    expect(readFileSync(path.join(dir, 'x', 'y', 'c.md'), 'utf8')).toBe('ok')
    const blocker = path.join(dir, 'file')
    writeFileSync(blocker, '')
    expect(() => writeFileAtomic(path.join(blocker, 'd.md'), 'x')).toThrow(/cannot create its directory \(EEXIST|ENOTDIR\)/)
  })
})

describe('empty run', () => {
  it('renders every format without a single compared request', () => {
    const store = new MemoryStore()
    const run = store.createRun(recordedRun())
    const s = summarizeRun(store, run.id)
    const card = scorecard(s)
    expect(renderReport('html', s, card)).toContain('No regressions.')
    expect(renderReport('md', s, card)).toContain('## Regressions (0)')
  })
})
