import {render} from 'ink-testing-library'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import {colourWanted} from '../../src/cli/colour.js'
import type {SqliteTraceStore} from '../../src/store/sqlite.js'
import {openStore} from '../../src/store/sqlite.js'
import {TuiApp} from '../../src/tui/app.js'
import {baseTrace, decision, recordedRun, toolCall, trace} from '../factories/index.js'
import {removeTempDirs} from '../factories/temp-dir.js'
import {tempStore} from '../factories/store.js'
import {ENTER, ESC, frameWhere, frameWith, press} from './ink-frames.js'

// Ink colours through chalk, which reads FORCE_COLOR once, when it is loaded: set before any import,
// so that colour reaches the frames at all and the NO_COLOR check below has something to remove.
const forceColour = vi.hoisted(() => {
  const before = process.env.FORCE_COLOR
  process.env.FORCE_COLOR = '3'
  return before
})

let file: string
let store: SqliteTraceStore

beforeAll(() => {
  let writer: SqliteTraceStore
  ;({file, store: writer} = tempStore({prefix: 'understudy-tui-nocolor-'}))
  const created = writer.createRun(recordedRun({candidate_ref: 'clinic@2.0.0#0123456789ab'}))
  writer.writeTraces(created.id, [
    baseTrace({request_id: 'visit-1', line: 1, tenant: 'north', tool_calls: [toolCall('book_slot', {slot: 'mon-9'}, {risk: 'write_low'})], policy_decisions: [decision('mid_run', 'book_slot', 'allow', 'POLICY_DEFAULT')]}),
    trace({
      request_id: 'visit-1',
      line: 1,
      tenant: 'north',
      status: 'refused',
      tool_calls: [toolCall('book_slot', {slot: 'mon-9'}, {risk: 'write_low', outcome: 'denied', executed: false, result: null, error: 'policy_denied'})],
      policy_decisions: [decision('mid_run', 'book_slot', 'deny', 'SLOT_LOCKED', {rule: 'r-1'})],
    }),
    baseTrace({request_id: 'visit-2', line: 2, tenant: 'south'}),
    trace({request_id: 'visit-2', line: 2, tenant: 'south'}),
  ])
  writer.finishRun(created.id, 'completed')
  writer.close()
  store = openStore(file, {readonly: true})
})

afterAll(() => {
  // Test files share a worker's modules (vitest.config.ts): leave neither the variable nor a chalk that read it.
  if (forceColour === undefined) delete process.env.FORCE_COLOR
  else process.env.FORCE_COLOR = forceColour
  vi.resetModules()
  store.close()
  removeTempDirs()
})

/** SGR parameters that set a colour: 30–39, 40–49, 90–97, 100–107 (38/48 take the extended forms). */
function colourEscapes(frame: string): string[] {
  const found: string[] = []
  for (const m of frame.matchAll(/\u001b\[([0-9;]*)m/g)) {
    const params = m[1]!.split(';').map(Number)
    if (params.some((p) => (p >= 30 && p <= 49) || (p >= 90 && p <= 107))) found.push(m[0])
  }
  return found
}

/** Every screen of the TUI (only the runs list when `all` is false), with the help overlay and a notice: the frames it drew on the way. */
async function screens(colour: boolean, all: boolean): Promise<string[]> {
  const inst = render(
    <TuiApp store={store} openReader={() => openStore(file, {readonly: true})} copy={() => {}} colour={colour} size={{columns: 100, rows: 24}} />,
  )
  await frameWhere(inst, (f) => /\b(green|amber|red)\s+\d/.test(f))
  if (!all) {
    const frames = [...inst.frames]
    inst.unmount()
    return frames
  }
  await press(inst, '?')
  await frameWith(inst, 'keys · runs')
  // The key after the one that closes the help reaches the screen beneath at once.
  await press(inst, 'x', 'c')
  expect(await frameWith(inst, 'scorecard for run')).toContain('DIMENSION')
  await press(inst, ESC, ENTER)
  await frameWith(inst, 'causes of')
  await press(inst, 'a')
  await frameWith(inst, '2 compared')
  await press(inst, 'y')
  await frameWith(inst, 'copied visit-1')
  await press(inst, ENTER)
  await frameWith(inst, 'REGRESSION')
  const frames = [...inst.frames]
  inst.unmount()
  return frames
}

describe('NO_COLOR in the TUI', () => {
  it('draws no colour escape on any screen when NO_COLOR is set; bold and inverse stay', async () => {
    // The control: with colour allowed the runs list is coloured, so the check below can fail.
    expect(colourEscapes((await screens(true, false)).join('\n')).length).toBeGreaterThan(0)
    const frames = (await screens(colourWanted({isTTY: true}, {NO_COLOR: '1', FORCE_COLOR: '3'}), true)).join('\n')
    expect(colourEscapes(frames)).toEqual([])
    expect(frames).toContain('\u001b[7m')
    expect(frames).toContain('visit-1')
  })
})
