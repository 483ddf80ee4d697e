import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {render} from 'ink-testing-library'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {RunInfo, TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {TuiApp} from '../../src/tui/app.js'
import {loadEntries, type LoadState} from '../../src/tui/loader.js'
import {baseTrace, toolCall, trace, writeRun} from '../factories/index.js'

const N = 2000

// eslint-disable-next-line no-control-regex
const strip = (s: string): string => s.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '')

/** Every 10th request regresses (a tool call no longer executes), the rest are the same. */
function runTraces(): RequestTrace[] {
  const out: RequestTrace[] = []
  for (let i = 0; i < N; i++) {
    const id = `req-${String(i).padStart(5, '0')}`
    const line = i + 1
    const regress = i % 10 === 0
    out.push(baseTrace({request_id: id, line, tool_calls: [toolCall('lookup_order', {order_id: id})]}))
    out.push(
      trace({
        request_id: id,
        line,
        status: regress ? 'failed' : 'completed',
        tool_calls: [toolCall('lookup_order', {order_id: id})],
      }),
    )
  }
  return out
}

let dir: string
let file: string
let store: TraceDatabase
let run: RunInfo

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-tui-big-'))
  file = path.join(dir, 'store.db')
  const created = writeRun(file, runTraces())
  store = openStore(file, {readonly: true})
  run = store.getRun(created.id)!
})

afterAll(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

describe('loadEntries', () => {
  it('compares a stored run in slices, reporting progress, and counts every class', async () => {
    const seen: number[] = []
    const state = await loadEntries(store.iterateTraces(run.id), 'recorded', {
      sliceMs: 0,
      cancelled: () => false,
      onProgress: (s) => seen.push(s.entries.length),
    })
    expect(state.done).toBe(true)
    expect(state.error).toBeNull()
    expect(state.entries).toHaveLength(N)
    expect(state.counts.total).toBe(N)
    expect(state.counts.regression).toBe(N / 10)
    expect(state.counts.same).toBe(N - N / 10)
    // A 0 ms slice still compares one request per slice, and progress is reported as it grows.
    expect(seen.length).toBeGreaterThan(100)
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(state.entries[0]).toMatchObject({request_id: 'req-00000', line: 1, class: 'regression', tenant: 'acme'})
    expect(state.entries[0]!.haystack).toContain('lookup_order')
  })

  it('stops when cancelled and frees the store connection', async () => {
    let calls = 0
    const state: LoadState = await loadEntries(store.iterateTraces(run.id), 'recorded', {
      sliceMs: 0,
      cancelled: () => calls >= 3,
      onProgress: () => calls++,
    })
    expect(state.done).toBe(false)
    expect(state.entries.length).toBe(3)
    // An iterator left open would make this throw "connection is busy".
    expect(store.countTraces(run.id)).toBe(2 * N)
  })

  it('reports a failing trace stream as an error, keeping what was loaded', async () => {
    function* broken(): Generator<RequestTrace> {
      yield baseTrace({request_id: 'a', line: 1})
      yield trace({request_id: 'a', line: 1})
      yield baseTrace({request_id: 'b', line: 2})
      throw new Error('database disk image is malformed')
    }
    const state = await loadEntries(broken(), 'recorded', {cancelled: () => false, onProgress: () => {}})
    expect(state.done).toBe(true)
    expect(state.error).toBe('database disk image is malformed')
    expect(state.entries.map((e) => e.request_id)).toEqual(['a'])
  })
})

describe('a large run in the TUI', () => {
  it('renders only the visible window and jumps with G, g and PgDn', async () => {
    const inst = render(<TuiApp store={store} openReader={() => openStore(file, {readonly: true})} initialRun={run} size={{columns: 80, rows: 24}} />)
    const until = async (text: string): Promise<string> => {
      for (let i = 0; i < 1000 && !strip(inst.lastFrame() ?? '').includes(text); i++) await new Promise((r) => setTimeout(r, 5))
      return strip(inst.lastFrame() ?? '')
    }
    // The run opens on its causes; `a` lists every request.
    await until(`${N} compared vs recorded`)
    inst.stdin.write('a')
    let f = await until(`${N} compared vs recorded · same`)
    expect(f).toContain(`2 regressions ${N / 10}`)
    const rows = (frame: string): string[] => frame.split('\n').filter((l) => /req-\d{5}/.test(l))
    expect(frame(f)).toBeLessThanOrEqual(23)
    expect(rows(f)).toHaveLength(23 - 5)

    inst.stdin.write('G')
    f = await until(`req-0${N - 1}`)
    expect(rows(f)).toHaveLength(18)
    expect(f).toMatch(/❯ same\s+req-01999/)
    expect(f).toContain(`· ${N}/${N}`)

    inst.stdin.write('g')
    f = await until('❯ regression  req-00000')
    inst.stdin.write('\u001B[6~')
    f = await until('❯ same        req-00018')
    expect(rows(f)[0]).toContain('req-00001')

    inst.stdin.write('2')
    f = await until(`· 1/${N / 10}`)
    expect(rows(f).every((l) => l.includes('regression'))).toBe(true)
    inst.unmount()
  })
})

function frame(f: string): number {
  return f.split('\n').length
}
