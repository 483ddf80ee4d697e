import {describe, expect, it} from 'vitest'
import {compareGroup} from '../../src/diff/compare.js'
import {IncrementalFilter, inTab, matchesText, scrollTop, toEntry, type RequestEntry} from '../../src/tui/entries.js'
import {requestLines} from '../../src/tui/request-lines.js'
import {oneLine, wrapSegments, type Segment} from '../../src/tui/text.js'
import {baseTrace, decision, toolCall, trace} from '../factories/index.js'

const entry = (over: Partial<RequestEntry>): RequestEntry => ({
  request_id: 'r',
  line: 1,
  tenant: 't',
  class: 'same',
  reasons: [],
  reasonCount: 0,
  noiseCount: 0,
  cause: null,
  tool: '',
  haystack: 'r',
  ...over,
})

describe('request entries', () => {
  it('keep id, tenant, class, the first reasons and searchable tool names', () => {
    const compared = compareGroup(
      {
        request_id: 'req-9',
        line: 9,
        traces: [
          baseTrace({request_id: 'req-9', line: 9, tenant: 'Globex', tool_calls: [toolCall('issue_refund', {amount: 5}, {risk: 'write_high'})], policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'POLICY_DEFAULT')]}),
          trace({
            request_id: 'req-9',
            line: 9,
            tenant: 'Globex',
            status: 'refused',
            tool_calls: [toolCall('issue_refund', {amount: 5}, {risk: 'write_high', outcome: 'denied', executed: false})],
            policy_decisions: [decision('mid_run', 'issue_refund', 'deny', 'REFUND_OVER_LIMIT')],
          }),
        ],
      },
      'recorded',
    )
    const e = toEntry(compared)
    expect(e).toMatchObject({request_id: 'req-9', line: 9, tenant: 'Globex', class: 'regression'})
    expect(e.reasons).toHaveLength(2)
    expect(e.reasonCount).toBeGreaterThan(2)
    for (const needle of ['req-9', 'globex', 'ISSUE_REFUND', 'refund_over_limit', 'new_denial']) expect(matchesText(e, needle), needle).toBe(true)
    expect(matchesText(e, 'lookup_order')).toBe(false)
  })

  it('mark a request missing a side as incomplete', () => {
    const e = toEntry(compareGroup({request_id: 'x', line: 2, traces: [trace({request_id: 'x', line: 2})]}, 'recorded'))
    expect(e.class).toBe('incomplete')
    expect(e.reasons).toEqual(['no base trace'])
  })

  it('sort into tabs, with noise-only differences under benign/noise', () => {
    expect(inTab(entry({class: 'regression'}), 'regression')).toBe(true)
    expect(inTab(entry({class: 'regression'}), 'improvement')).toBe(false)
    expect(inTab(entry({class: 'same', noiseCount: 2}), 'benign')).toBe(true)
    expect(inTab(entry({class: 'same'}), 'benign')).toBe(false)
    expect(inTab(entry({class: 'incomplete'}), 'all')).toBe(true)
  })
})

describe('IncrementalFilter', () => {
  it('tests only new entries while the filter stays, and starts over when it changes', () => {
    const entries = [entry({class: 'regression', haystack: 'a refund'}), entry({class: 'same', haystack: 'b'})]
    const f = new IncrementalFilter()
    expect([...f.update(entries, 'all', '')]).toEqual([0, 1])
    entries.push(entry({class: 'regression', haystack: 'c refund'}))
    expect([...f.update(entries, 'all', '')]).toEqual([0, 1, 2])
    expect([...f.update(entries, 'regression', '')]).toEqual([0, 2])
    expect([...f.update(entries, 'regression', 'C REF')]).toEqual([2])
    expect([...f.update([], 'regression', 'C REF')]).toEqual([])
  })
})

describe('scrollTop', () => {
  it('keeps the cursor inside the window and the window inside the list', () => {
    expect(scrollTop(0, 0, 10, 100)).toBe(0)
    expect(scrollTop(10, 0, 10, 100)).toBe(1)
    expect(scrollTop(5, 8, 10, 100)).toBe(5)
    expect(scrollTop(99, 0, 10, 100)).toBe(90)
    expect(scrollTop(3, 50, 10, 5)).toBe(0)
  })
})

describe('text helpers', () => {
  it('keep a cell on one line, control characters made visible', () => {
    expect(oneLine('a\nb\u001b[2Jc\td')).toBe('a ⏎ b\\x1b[2Jc d')
  })

  it('wraps answers at word boundaries, keeping the changed words marked', () => {
    const lines = wrapSegments(
      [
        {text: 'Your refund of ', style: ''},
        {text: 'forty', style: 'del'},
        {text: ' dollars has been issued to the card ending 4242.', style: ''},
      ],
      20,
    )
    const text = lines.map((l) => l.map((s) => s.text).join(''))
    for (const l of text) expect([...l].length).toBeLessThanOrEqual(20)
    expect(text.join(' ')).toBe('Your refund of forty dollars has been issued to the card ending 4242.')
    expect(lines.flat().find((s) => s.style === 'del')?.text).toBe('forty')
    // A word longer than a line is broken rather than overflowing.
    expect(wrapSegments([{text: 'x'.repeat(25), style: ''}], 10).map((l) => l[0]?.text)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)])
  })

  it('wraps by display width: CJK and emoji take two columns, an emoji sequence is never split', () => {
    const text = (parts: Segment[][]) => parts.map((l) => l.map((s) => s.text).join(''))
    expect(text(wrapSegments([{text: '您的退款已经处理完毕', style: ''}], 7))).toEqual(['您的退', '款已经', '处理完', '毕'])
    expect(text(wrapSegments([{text: 'ok 您的退款', style: ''}], 8))).toEqual(['ok', '您的退款'])
    expect(text(wrapSegments([{text: '👍👨‍👩‍👧👍', style: ''}], 3))).toEqual(['👍', '👨‍👩‍👧', '👍'])
  })
})

describe('requestLines', () => {
  it('lays the side-by-side model out as titled sections and wrapped answers', () => {
    const compared = compareGroup(
      {
        request_id: 'q',
        line: 1,
        traces: [
          baseTrace({request_id: 'q', budget_hits: ['max_steps'], status: 'budget_exceeded', final_answer: 'Sorry, I ran out of steps before finishing.'}),
          trace({request_id: 'q', final_answer: 'Your order shipped yesterday.'}),
        ],
      },
      'recorded',
      {answerParts: true},
    )
    const lines = requestLines(compared, 20)
    const titles = lines.flatMap((l) => (l.kind === 'title' ? [l.text] : []))
    expect(titles).toEqual(expect.arrayContaining(['reasons', 'status', 'budgets', 'metrics', 'final answer (changed)']))
    expect(lines).toContainEqual(expect.objectContaining({kind: 'row', mark: 'removed', left: [{text: 'hit max_steps', style: ''}], right: null}))
    const answer = lines.slice(lines.findIndex((l) => l.kind === 'title' && l.text.startsWith('final answer')) + 1)
    expect(answer.length).toBeGreaterThan(1)
    for (const l of answer) {
      if (l.kind !== 'row') throw new Error('answer lines are rows')
      for (const side of [l.left, l.right]) expect((side ?? []).map((s) => s.text).join('').length).toBeLessThanOrEqual(20)
    }
  })
})
