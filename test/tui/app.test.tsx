import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {render} from 'ink-testing-library'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {RunInfo, TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {TuiApp} from '../../src/tui/app.js'
import {baseTrace, decision, newRun, toolCall, trace} from '../factories/index.js'
import {DOWN, ENTER, ESC, frameWhere, frameWith, type Inst, press, strip} from './ink-frames.js'

/** Three requests against the recorded side: a regression (new denial), an improvement, and one the same. */
function demoTraces(): RequestTrace[] {
  const refund = {order_id: 'ORD-1', amount: 420}
  return [
    baseTrace({
      request_id: 'req-regress',
      line: 1,
      tenant: 'acme',
      tool_calls: [toolCall('lookup_order', {order_id: 'ORD-1'}), toolCall('issue_refund', refund, {risk: 'write_high'})],
      policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'POLICY_DEFAULT', {rule: 'default'})],
      final_answer: 'Your refund of 420 has been issued.',
    }),
    trace({
      request_id: 'req-regress',
      line: 1,
      tenant: 'acme',
      status: 'refused',
      tool_calls: [
        toolCall('lookup_order', {order_id: 'ORD-1'}),
        toolCall('issue_refund', refund, {risk: 'write_high', outcome: 'denied', executed: false, result: null, error: 'policy_denied'}),
      ],
      policy_decisions: [decision('mid_run', 'issue_refund', 'deny', 'REFUND_OVER_LIMIT', {rule: 'r-020'})],
      final_answer: 'I cannot issue this refund.',
    }),
    baseTrace({request_id: 'req-improve', line: 2, tenant: 'globex', status: 'budget_exceeded', budget_hits: ['max_steps'], tool_calls: [toolCall('search_kb', {q: 'late'})]}),
    trace({request_id: 'req-improve', line: 2, tenant: 'globex', tool_calls: [toolCall('search_kb', {q: 'late'})]}),
    baseTrace({request_id: 'req-same', line: 3, tenant: 'initech'}),
    trace({request_id: 'req-same', line: 3, tenant: 'initech'}),
  ]
}

let dir: string
let file: string
let store: TraceDatabase
let run: RunInfo
const readers: TraceDatabase[] = []

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-tui-'))
  file = path.join(dir, 'store.db')
  const writer = openStore(file)
  const created = writer.createRun(newRun({baseline_ref: 'recorded', baseline_hash: null, repeat: 1, candidate_ref: 'support@2.0.0#0123456789ab'}))
  writer.writeTraces(created.id, demoTraces())
  writer.setRequestsTotal(created.id, 3)
  writer.finishRun(created.id, 'completed')
  writer.close()
  store = openStore(file, {readonly: true})
  run = store.getRun(created.id)!
})

afterEach(() => {
  store.close()
  for (const r of readers.splice(0)) {
    try {
      r.close()
    } catch {
      // already closed by the app
    }
  }
  rmSync(dir, {recursive: true, force: true})
})

const openReader = (): TraceDatabase => {
  const r = openStore(file, {readonly: true})
  readers.push(r)
  return r
}

function app(props: {initialRun?: RunInfo; columns?: number; rows?: number} = {}): Inst {
  return render(<TuiApp store={store} openReader={openReader} initialRun={props.initialRun} size={{columns: props.columns ?? 100, rows: props.rows ?? 30}} />)
}

function expectFits(frame: string, columns: number, rows: number): void {
  const lines = frame.split('\n')
  for (const l of lines) expect([...l].length, `line too wide: ${JSON.stringify(l)}`).toBeLessThanOrEqual(columns)
  expect(lines.length).toBeLessThanOrEqual(rows)
}

describe('understudy TUI', () => {
  it('lists the runs and opens one on enter, with counts per class', async () => {
    const inst = app()
    let f = await frameWith(inst, run.id)
    expect(f).toContain('completed')
    expect(f).toContain('support@2.0.0 vs recorded')
    expect(f).toContain('enter open')

    // A run opens on its causes (#19); the first row, every request, is under the cursor.
    await press(inst, ENTER)
    f = await frameWith(inst, '2 causes of 2 differing requests · 3 compared vs recorded')
    expect(f).toMatch(/❯ all\s+—\s+3 every request of the run/)
    await press(inst, ENTER)
    f = await frameWith(inst, '3 compared vs recorded · same 1')
    expect(f).toContain('1 all 3')
    expect(f).toContain('2 regressions 1')
    expect(f).toContain('3 behaviour 0')
    expect(f).toContain('4 improved 1')
    expect(f).toContain('same 1')
    for (const id of ['req-regress', 'req-improve', 'req-same']) expect(f).toContain(id)
    // The regression's first reason is on its row.
    expect(f).toMatch(/regression\s+req-regress\s+1\s+acme\s+no longer completes/)
    inst.unmount()
  })

  it('filters by class with the number keys and by text with /', async () => {
    const inst = app({initialRun: run})
    await frameWith(inst, '2 causes')
    await press(inst, 'a')
    await frameWith(inst, '3 compared vs recorded · same')

    await press(inst, '2')
    let f = await frameWhere(inst, (x) => !x.includes('req-same'))
    expect(f).toContain('req-regress')
    expect(f).not.toContain('req-improve')
    expect(f).not.toContain('req-same')

    await press(inst, '4')
    f = await frameWhere(inst, (x) => !x.includes('req-regress'))
    expect(f).toContain('req-improve')
    expect(f).not.toContain('req-regress')

    // The list narrows as each key is typed (#20): "g" matches two (regression, globex), "gl" only globex.
    await press(inst, '1', '/', 'g')
    f = await frameWith(inst, '/g')
    expect(f).toContain('enter keep')
    expect(f).toContain('filter "g" 2 shown')
    expect(f).not.toContain('req-same')
    await press(inst, 'l')
    f = await frameWith(inst, 'filter "gl" 1 shown')
    expect(f).toContain('req-improve')
    expect(f).not.toContain('req-regress')
    await press(inst, ...'obex', ENTER)
    f = await frameWith(inst, 'esc back')
    expect(f).toContain('filter "globex" 1 shown')
    expect(f).not.toContain('req-same')

    // esc in the prompt clears the filter; a tool name matches too.
    await press(inst, '/', ESC)
    f = await frameWhere(inst, (x) => x.includes('esc back') && !x.includes('filter "'))
    expect(f).toContain('req-same')
    await press(inst, '/', ...'issue_refund', ENTER)
    f = await frameWith(inst, 'filter "issue_refund" 1 shown')
    expect(f).toContain('req-regress')
    expect(f).not.toContain('req-improve')

    // esc clears the text filter before it goes back.
    await press(inst, ESC)
    f = await frameWhere(inst, (x) => x.includes('req-same'))
    expect(f).toContain('req-improve')
    expect(f).not.toContain('filter "')
    inst.unmount()
  })

  it('opens a request side by side, with the denied call and its reason, and esc goes back', async () => {
    const inst = app({initialRun: run, columns: 120, rows: 60})
    await frameWith(inst, '2 causes')
    await press(inst, 'a')
    await frameWith(inst, '3 compared vs recorded · same')
    await press(inst, ENTER)
    let f = await frameWith(inst, 'CANDIDATE (candidate)')
    expect(f).toContain('request req-regress · line 1 · tenant acme')
    expect(f).toContain('REGRESSION')
    expect(f).toContain('BASE (recorded)')
    expect(f).toMatch(/issue_refund\b.*→ ok\b.*≠ issue_refund\b.*→ denied \(not executed\)/)
    expect(f).toMatch(/mid_run issue_refund: allow POLICY_DEFAULT\s+≠ mid_run issue_refund: deny REFUND_OVER_LIMIT/)
    expect(f).toMatch(/status: completed\s+≠ status: refused/)

    // Scrolling down reaches the final answers.
    await press(inst, 'G')
    f = await frameWith(inst, 'final answer (changed)')
    expect(f).toContain('I cannot issue this refund.')

    await press(inst, ESC)
    f = await frameWith(inst, 'compared vs recorded')
    expect(f).toContain('req-improve')
    // The cursor is where it was.
    expect(f).toMatch(/❯ regression\s+req-regress/)

    await press(inst, DOWN, ENTER)
    f = await frameWith(inst, 'request req-improve')
    expect(f).toContain('IMPROVEMENT')
    expect(f).toMatch(/hit max_steps\s+</)
    await press(inst, ESC, ESC)
    await frameWith(inst, '2 causes')
    await press(inst, ESC)
    f = await frameWith(inst, 'STARTED (UTC)')
    expect(f).toContain(run.id)
    inst.unmount()
  })

  it('fits every screen into 80×24 without wrapping a row', async () => {
    const inst = app({columns: 80, rows: 24})
    expectFits(await frameWith(inst, run.id), 80, 24)
    await press(inst, ENTER)
    expectFits(await frameWith(inst, '2 causes'), 80, 24)
    await press(inst, ENTER)
    expectFits(await frameWith(inst, '3 compared vs recorded · same'), 80, 24)
    await press(inst, '/', ...'a long filter text that goes past the edge of the screen for sure')
    expectFits(await frameWith(inst, 'for sure'), 80, 24)
    await press(inst, ESC, ENTER)
    const f = await frameWith(inst, 'CANDIDATE')
    expectFits(f, 80, 24)
    // Long cells end in an ellipsis rather than wrapping.
    expect(f).toContain('…')
    await press(inst, 'G')
    expectFits(await frameWith(inst, 'final answer'), 80, 24)
    for (const frame of inst.frames) expectFits(strip(frame), 80, 24)
    inst.unmount()
  })

  it('lists the causes most harmful first and drills down to the requests of one; esc comes back to it', async () => {
    const inst = app({initialRun: run, columns: 140})
    let f = await frameWith(inst, '2 causes')
    // The regression's cause names the tool, the decision with its rules and reason codes, and the status.
    expect(f).toMatch(/regression\s+[0-9a-f]{10}\s+1 new_denial issue_refund allow POLICY_DEFAULT \[default\] → deny REFUND_OVER_LIMIT \[r-020\]/)
    expect(f.indexOf('regression')).toBeLessThan(f.indexOf('improvement'))
    const cause = /regression\s+([0-9a-f]{10})/.exec(f)![1]!
    await press(inst, DOWN, ENTER)
    f = await frameWith(inst, `cause ${cause}`)
    expect(f).toContain('req-regress')
    expect(f).not.toContain('req-improve')
    expect(f).not.toContain('req-same')
    await press(inst, ESC)
    f = await frameWith(inst, '2 causes')
    expect(f).toMatch(new RegExp(`❯ regression\\s+${cause}`))
    inst.unmount()
  })

  it('j/k move the cursor in the runs list and q quits', async () => {
    const w = openStore(file)
    const second = w.createRun(newRun({name: 'second', candidate_ref: 'support@3.0.0#aaaaaaaaaaaa'}))
    w.close()
    const inst = app()
    let f = await frameWith(inst, second.id)
    // Newest first: the second run is on top, under the cursor.
    expect(f.indexOf(second.id)).toBeLessThan(f.indexOf(run.id))
    expect(f).toContain('candidate support@3.0.0#aaaaaaaaaaaa')
    await press(inst, 'j')
    f = await frameWith(inst, 'candidate support@2.0.0#0123456789ab')
    expect(f).toContain('2/2')
    await press(inst, 'k')
    f = await frameWith(inst, 'candidate support@3.0.0')
    expect(f).toContain('1/2')
    await press(inst, 'q')
    const frames = inst.frames.length
    await press(inst, 'j')
    // Quit unmounted the app: keys draw nothing more.
    expect(inst.frames.length).toBe(frames)
  })
})
