import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import type {AcceptedEntry} from '../../src/diff/accepted.js'
import type {ValidationError} from '../../src/errors.js'
import {renderHtml} from '../../src/report/html.js'
import {renderJunit, xmlText} from '../../src/report/junit.js'
import {renderMarkdown} from '../../src/report/markdown.js'
import {renderSummary, SUMMARY_MAX_BYTES} from '../../src/report/summary.js'
import {addAccepted, loadAccepted} from '../../src/runs/accepted-file.js'
import {compareVerdicts, sameTraffic} from '../../src/runs/compare-runs.js'
import {listRun, type ListedRequest} from '../../src/runs/diff-list.js'
import {parseAge, pruneSelection, removeRuns, runsToRemove, storeBytes} from '../../src/runs/housekeeping.js'
import {openRun} from '../../src/runs/open.js'
import {summarizeRun, type RunSummary} from '../../src/runs/summary.js'
import {scorecardGate, verdictOf} from '../../src/scorecard/render.js'
import {scorecard} from '../../src/scorecard/scorecard.js'
import {openStore} from '../../src/store/sqlite.js'
import {writeRun} from '../factories/index.js'
import {smallRun} from './small-run.js'

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-ci-'))
const {store, runId} = smallRun()
const plain = summarizeRun(store, runId)
const causeOf = (s: RunSummary, id: string): string => s.causes.groups.find((g) => g.examples.includes(id))!.cause
const entry = (cause: string, over: Partial<AcceptedEntry> = {}): AcceptedEntry => ({cause, by: 'alice', at: '2026-12-04', reason: 'intended', ...over})

describe('accepted differences', () => {
  const injectCause = causeOf(plain, 'r-inject-bad')
  const accepted = summarizeRun(store, runId, {accepted: [entry(injectCause), entry('abcd0123', {by: 'bob'})]})

  it('count the accepted requests apart, shown with who and why; an entry no request has is stale', () => {
    expect(accepted.requests.accepted).toBe(1)
    expect(accepted.classes.regression).toBe(plain.classes.regression - 1)
    expect(accepted.regressions.ids).not.toContain('r-inject-bad')
    expect(accepted.accepted.groups).toEqual([expect.objectContaining({cause: injectCause, class: 'regression', requests: 1, examples: ['r-inject-bad'], entry: entry(injectCause)})])
    expect(accepted.accepted.stale.map((e) => e.by)).toEqual(['bob'])
  })

  it('the Markdown report shows them with who, when and why, and the stale entries', () => {
    const md = renderMarkdown(accepted, scorecard(accepted))
    expect(md).toContain('## Accepted differences (1 requests)')
    expect(md).toMatch(new RegExp(`\\| \`${injectCause}\` \\| regression \\| 1 \\| .* \\| alice \\| 2026-12-04 \\| intended \\|`))
    expect(md).toMatch(/\*\*Stale:\*\* 1 accepted cause\(s\) no longer occur/)
    expect(renderMarkdown(plain, scorecard(plain))).not.toContain('Accepted differences')
  })

  it('the HTML report shows them too, with who, when and why, and the stale entries', () => {
    const html = renderHtml(accepted, scorecard(accepted))
    expect(html).toContain('<h2>Accepted differences (1 requests)</h2>')
    expect(html).toMatch(new RegExp(`<tr id="accepted-${injectCause}"><td><code>${injectCause}</code></td><td><b [^>]*>regression</b></td><td class="num">1</td>.*<td>alice</td><td>2026-12-04</td><td>intended</td></tr>`))
    expect(html).toMatch(/<b>Stale:<\/b> 1 accepted cause no longer occurs in this run/)
    expect(renderHtml(plain, scorecard(plain))).not.toContain('Accepted differences')
  })

  it('an accepted regression no longer fails the gate', () => {
    expect(scorecardGate(scorecard(plain)).failures.join('\n')).toMatch(/injection requests where a disallowed call executed is 1/)
    expect(scorecardGate(scorecard(accepted)).failures.join('\n')).not.toMatch(/injection requests where a disallowed call executed/)
  })

  it('the file: every problem located; `accept` appends, keeping comments, and refuses a second entry for one cause', () => {
    const bad = path.join(dir, 'bad.yaml')
    writeFileSync(bad, 'accepted:\n  - cause: 3f9a1c0b2e\n    by: alice\n    at: yesterday\n    reason: ok\n  - cause: XYZ\n    by: bob\n    at: 2026-12-01\n    reson: typo\n')
    const problems = (() => {
      try {
        loadAccepted(bad)
        return []
      } catch (e) {
        return (e as ValidationError).problems
      }
    })()
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^${bad}:4:5: accepted\\.0\\.at: `)),
      expect.stringMatching(new RegExp(`^${bad}:6:5: accepted\\.1\\.cause: a cause id`)),
      expect.stringMatching(new RegExp(`^${bad}:6:5: accepted\\.1\\.reason: missing required field`)),
      expect.stringMatching(new RegExp(`^${bad}:9:5: accepted\\.1\\.reson: unknown field`)),
    ])
    const file = path.join(dir, 'accepted.yaml')
    writeFileSync(file, '# reviewed in PR 118\nversion: 1\naccepted: []\n')
    addAccepted(file, entry('3f9a1c0b2e'))
    addAccepted(file, entry('77aa', {by: 'bob'}))
    expect(readFileSync(file, 'utf8')).toMatch(/^# reviewed in PR 118\n/)
    expect(loadAccepted(file).entries.map((e) => e.cause)).toEqual(['3f9a1c0b2e', '77aa'])
    expect(() => addAccepted(file, entry('3f9a1c'))).toThrow(/cause 3f9a1c is already accepted \(by alice on 2026-12-04: intended\)/)
  })
})

describe('report --format junit', () => {
  it('escapes markup and characters XML cannot hold', () => {
    expect(xmlText(`<a href="x">&'\u0001\ud800`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;\\u0001\\ud800')
  })

  const counts = (xml: string, tag: string): number => xml.split(`<${tag}`).length - 1
  const card = scorecard(plain)

  it('per cause: a scorecard suite, a failure per regression group with its codes and cause, the totals in the root', () => {
    const xml = renderJunit(plain, card, {by: 'cause'})
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites /)
    const regressionGroups = plain.causes.groups.filter((g) => g.class === 'regression')
    const red = card.dimensions.filter((d) => d.colour === 'red').length
    expect(counts(xml, 'failure ')).toBe(regressionGroups.length + red)
    expect(counts(xml, 'testcase ')).toBe(4 + plain.causes.groups.length)
    expect(xml).toContain(`<testsuites name="understudy ${plain.run.id}" tests="${4 + plain.causes.groups.length}" failures="${regressionGroups.length + red}"`)
    const deny = causeOf(plain, 'r-deny')
    expect(xml).toMatch(new RegExp(`<testcase classname="understudy.regression" name="${deny} [^"]*REFUND_OVER_LIMIT[^"]*">\\n      <failure message="1 regression\\(s\\): [^"]*new_denial`))
  })

  it('per request, from the store: one testcase per compared request; an accepted one is skipped with who and why', async () => {
    const db = path.join(dir, 'junit.db')
    const id = writeRun(db, [...store.iterateTraces(runId)]).id
    const {store: disk, run} = openRun(db, id)
    try {
      const requests: ListedRequest[] = []
      const injectCause = causeOf(plain, 'r-inject-bad')
      await listRun(disk, run, 'all', (r) => requests.push(r), {withCause: true, accepted: [entry(injectCause)]})
      const xml = renderJunit(plain, card, {by: 'request', requests})
      expect(counts(xml, 'testcase ')).toBe(4 + plain.requests.compared)
      expect(xml).toMatch(/name="r-deny \(line 3\)">\n {6}<failure message="regression: [^"]*new_denial[^"]* \(cause [0-9a-f]{10}\)"/)
      expect(xml).toMatch(new RegExp(`name="r-inject-bad \\(line \\d+\\)">\\n {6}<skipped message="cause ${injectCause} accepted by alice on 2026-12-04: intended"/>`))
      expect(xml).not.toContain('<script>')
    } finally {
      disk.close()
    }
  })
})

describe('report --format summary', () => {
  it('stays under 60 KB however many and however long the causes', () => {
    const group = plain.causes.groups[0]!
    const long = {...group.signature, facets: Array.from({length: 400}, (_, i) => ({...group.signature.facets[0]!, tool: `tool_${i}_${'x'.repeat(200)}`}))}
    const huge: RunSummary = {...plain, causes: {groups: Array.from({length: 100}, (_, i) => ({...group, cause: i.toString(16).padStart(10, '0'), signature: long})), omitted: 5000}}
    const card = scorecard(huge)
    const text = renderSummary(huge, card, {verdict: verdictOf(card), fullReport: 'https://ci.example.com/r/report.html'})
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES)
    expect(text).toContain(verdictOf(card).line)
    expect(text).toMatch(/### Top causes \(10 of 5100\)/)
    expect(text).toContain('Full report: [https://ci.example.com/r/report.html](https://ci.example.com/r/report.html)')
  })
})

describe('runs prune, rm and compare', () => {
  it('ages and the runs a rule picks', () => {
    expect([parseAge('30d'), parseAge('12h'), parseAge('2w'), parseAge('30 days')]).toEqual([30 * 86_400_000, 12 * 3_600_000, 14 * 86_400_000, null])
    const runs = ['2026-12-04T10:00:00Z', '2026-11-20T10:00:00Z', '2026-10-01T10:00:00Z'].map((started_at, i) => ({...plain.run, id: `r${i}`, started_at}))
    expect(pruneSelection(runs, {keep: 1}).map((r) => r.id)).toEqual(['r1', 'r2'])
    expect(pruneSelection(runs, {olderThanMs: 30 * 86_400_000}, new Date('2026-12-05T00:00:00Z')).map((r) => r.id)).toEqual(['r2'])
  })

  it('removes runs and gives the space back; a run a live writer holds is refused', () => {
    const db = path.join(dir, 'prune.db')
    const traces = [...store.iterateTraces(runId)]
    const big = Array.from({length: 40}, (_, k) => traces.map((t) => ({...t, request_id: `${t.request_id}-${k}`, line: t.line + k * 100, final_answer: 'x'.repeat(2000)}))).flat()
    const a = writeRun(db, big).id
    const b = writeRun(db, traces).id
    const s = openStore(db)
    try {
      s.claimRun(b)
      expect(() => runsToRemove(s, [b], db)).toThrow(new RegExp(`run ${b} is being written by process ${process.pid} on this host`))
      const before = storeBytes(db)
      const r = removeRuns(s, db, runsToRemove(s, [a.slice(0, 20)], db))
      expect(r.removed).toEqual([a])
      expect(r.bytes_freed).toBeGreaterThan(100_000)
      expect(r.bytes_before).toBe(before)
      expect(s.listRuns().map((x) => x.id)).toEqual([b])
    } finally {
      s.close()
    }
  })

  it('compare: the requests whose class or cause changed, with counts; other traffic is refused', () => {
    const v = (cls: 'same' | 'regression' | 'benign', cause: string | null, line: number) => ({class: cls, cause, line})
    const a = new Map([['q1', v('regression', 'aaaa', 1)], ['q2', v('same', null, 2)], ['q3', v('regression', 'aaaa', 3)]])
    const b = new Map([['q1', v('same', null, 1)], ['q2', v('same', null, 2)], ['q3', v('regression', 'bbbb', 3)], ['q4', v('benign', 'cccc', 4)]])
    const c = compareVerdicts('A', 'B', a, b)
    expect(c.both).toBe(3)
    expect(c.changed.map((r) => r.request_id)).toEqual(['q1', 'q3', 'q4'])
    expect(c.transitions).toEqual([
      {from: 'not compared', to: 'benign', requests: 1},
      {from: 'regression', to: 'regression', requests: 1},
      {from: 'regression', to: 'same', requests: 1},
    ])
    expect(() => sameTraffic({...plain.run, id: 'A', traffic_hash: 'a'.repeat(64)}, {...plain.run, id: 'B', traffic_file: 'other.jsonl', traffic_hash: 'b'.repeat(64)})).toThrow(
      /run A replayed .* \(sha256 aaaaaaaaaaaa\) but run B replayed other\.jsonl \(sha256 bbbbbbbbbbbb\): not the same traffic/,
    )
  })
})
