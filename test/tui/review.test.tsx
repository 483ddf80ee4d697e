import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {render} from 'ink-testing-library'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {heldActions} from '../../src/runs/approvals.js'
import {runSummary} from '../../src/runs/run-summary.js'
import {scorecard} from '../../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, type Thresholds} from '../../src/scorecard/thresholds.js'
import {startShadow} from '../../src/shadow/run.js'
import type {RunInfo} from '../../src/store/api.js'
import {openStore, type SqliteTraceStore} from '../../src/store/sqlite.js'
import {TuiApp} from '../../src/tui/app.js'
import {osc52} from '../../src/tui/clipboard.js'
import {REQUEST_KEYS} from '../../src/tui/request-screen.js'
import {removeTempDirs} from '../factories/temp-dir.js'
import {tempStore} from '../factories/store.js'
import {repoRoot} from '../helpers/cli.js'
import {ENTER, ESC, frameWhere, frameWith, type Inst, press} from './ink-frames.js'

/**
 * The review keys on a run of a scenario the TUI code has never seen: banking-assistant's v2 without
 * the injection defences, replayed model-free with approvals left pending, so that it holds large
 * transfers for a person to decide.
 */

let dir: string
let file: string
let store: SqliteTraceStore
let run: RunInfo
const open: SqliteTraceStore[] = []

beforeAll(async () => {
  ;({dir, file, store} = tempStore({prefix: 'understudy-tui-review-'}))
  const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')
  const started = await startShadow(
    {
      traffic: path.join(scenario, 'traffic.jsonl'),
      candidate: path.join(scenario, 'v2-no-injection-defence'),
      fixtures: path.join(scenario, 'fixtures.yaml'),
      model: 'recorded',
      approver: 'pending',
    },
    store,
  )
  run = started.run
})

afterAll(() => {
  for (const s of open.splice(0)) {
    try {
      s.close()
    } catch {
      // closed by the app already
    }
  }
  store.close()
  removeTempDirs()
})

const connect = (readonly: boolean) => (): SqliteTraceStore => {
  const s = openStore(file, {readonly})
  open.push(s)
  return s
}

function app(props: {initialRun?: RunInfo; copy?: (text: string) => void; thresholds?: Thresholds} = {}): Inst {
  return render(
    <TuiApp
      store={store}
      openReader={connect(true)}
      openWriter={connect(false)}
      by="tester"
      reportDir={dir}
      copy={props.copy}
      thresholds={props.thresholds && {file: 'lenient.yaml', thresholds: props.thresholds}}
      initialRun={props.initialRun}
      size={{columns: 110, rows: 24}}
    />,
  )
}

/** The request rows of a requests-list frame: class, id, tenant (the order `s` set, if any, has no column of its own for these). */
const rows = (frame: string): {id: string; tenant: string}[] =>
  frame
    .split('\n')
    .map((l) => /^(?:❯ | {2})(?:regression|improvement|behaviour|benign|same|incomplete)\s+(\S+)\s+\d+\s+(\S+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({id: m[1]!, tenant: m[2]!}))

describe('TUI review keys on banking-assistant', () => {
  it('s orders the list by class, cause, tenant and tool; n/p walk that order; ? lists every key of the screen', async () => {
    const inst = app({initialRun: run})
    await frameWith(inst, 'causes of')
    await press(inst, 'a')
    let f = await frameWith(inst, '60 compared vs recorded')
    await press(inst, 's')
    f = await frameWith(inst, 'by class (')
    await press(inst, 's')
    f = await frameWith(inst, 'by cause (')
    expect(f).toMatch(/CLASS\s+CAUSE\s+REQUEST/)
    await press(inst, 's')
    f = await frameWith(inst, 'by tenant (')
    const byTenant = rows(f)
    expect(byTenant.length).toBeGreaterThan(5)
    const tenants = byTenant.map((r) => r.tenant)
    expect(tenants).toEqual([...tenants].sort())

    // n and p walk the list as ordered, and esc comes back with the cursor where n left it.
    await press(inst, ENTER)
    f = await frameWith(inst, `request ${byTenant[0]!.id} `)
    expect(f).toContain('1/60')
    // The recorded request arrives after the diff (read from the run's traffic file in the background).
    f = await frameWith(inst, '── conversation')
    expect(f).toMatch(/user:/)
    expect(f).not.toContain('traffic record not available')
    await press(inst, 'n', 'n')
    f = await frameWith(inst, `request ${byTenant[2]!.id} `)
    expect(f).toContain('3/60')
    await press(inst, 'p')
    f = await frameWith(inst, `request ${byTenant[1]!.id} `)

    // ? shows every row of the table the request view dispatches with; any other key closes it.
    await press(inst, '?')
    f = await frameWith(inst, 'keys · one request')
    for (const b of REQUEST_KEYS) {
      expect(f).toContain(b.keys)
      expect(f).toContain(b.help)
    }
    await press(inst, 'x')
    f = await frameWith(inst, `request ${byTenant[1]!.id} `)
    await press(inst, ESC)
    f = await frameWith(inst, 'by tenant (')
    expect(f).toMatch(new RegExp(`❯ \\S+\\s+${byTenant[1]!.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s`))
    // The last row is of the last tenant: the order is the sort, not the recording's interleaving.
    await press(inst, 'G')
    f = await frameWith(inst, '60/60')
    const last = rows(f).at(-1)!.tenant
    expect(last > tenants[0]!).toBe(true)
    expect(rows(f).map((r) => r.tenant)).toEqual(rows(f).map((r) => r.tenant).sort())
    await press(inst, 's')
    f = await frameWith(inst, 'by tool (')
    expect(f).toMatch(/CLASS\s+TOOL\s+REQUEST/)
    await press(inst, 's')
    f = await frameWhere(inst, (x) => !x.includes(' · by '))
    inst.unmount()
  })

  it('approves a held call from the request view, shows the decision on it and how to carry it out', async () => {
    const held = heldActions(store, run)
    expect(held.length).toBeGreaterThan(0)
    const target = held[0]!
    const inst = app({initialRun: run})
    await frameWith(inst, 'causes of')
    // Typed as one burst, as a paste arrives: the key router hands the screen one key at a time.
    await press(inst, 'a', '/', target.request_id + ENTER)
    await frameWith(inst, `filter "${target.request_id}"`)
    await press(inst, ENTER)
    let f = await frameWith(inst, 'held for approval')
    expect(f).toContain(`${target.ref} ${target.tool}`)
    expect(f).toContain('undecided')
    await press(inst, 'a', `called back${ENTER}`)
    f = await frameWith(inst, 'approved by tester: called back')
    expect(f).toContain(`understudy approvals apply ${run.id}`)
    const after = heldActions(store, run).find((h) => h.ref === target.ref)!
    expect(after.decision).toBe('approved')
    expect(after.decided_by).toBe('tester')
    // Rejecting it again records the newer decision, with no reason.
    await press(inst, 'r', ENTER)
    f = await frameWith(inst, 'rejected by tester')
    expect(heldActions(store, run).find((h) => h.ref === target.ref)!.decision).toBe('rejected')
    inst.unmount()
  })

  it('runs list shows the scorecard verdict and regressions; c opens the scorecard, w writes the report, y copies an id', async () => {
    // Thresholds that let the injected transfers through: the verdict is theirs, not the defaults'.
    const lenient: Thresholds = structuredClone(DEFAULT_THRESHOLDS)
    lenient.safety.injection_disallowed_executed = {amber: 1000, red: 1000}
    const {summary, golden} = await runSummary(store, run)
    const card = scorecard(summary, lenient, golden)
    expect(card.colour).not.toBe(scorecard(summary, DEFAULT_THRESHOLDS, golden).colour)
    const copied: string[] = []
    const inst = app({copy: (t) => copied.push(t), thresholds: lenient})
    let f = await frameWith(inst, 'VERDICT')
    f = await frameWhere(inst, (x) => new RegExp(`${run.id}.*(green|amber|red)\\s+\\d+`).test(x))
    expect(f).toMatch(new RegExp(`${run.id}.*${card.colour}\\s+${summary.regressions.count}\\b`))

    await press(inst, 'c')
    f = await frameWith(inst, `scorecard for run ${run.id}: ${card.colour.toUpperCase()}`)
    expect(f).toContain('DIMENSION')
    expect(f).toContain('scorecard (thresholds lenient.yaml)')
    await press(inst, ESC)
    await frameWith(inst, 'VERDICT')

    await press(inst, 'w')
    const report = path.join(dir, `understudy-report-${run.id}.html`)
    f = await frameWith(inst, `wrote ${report} (HTML report of run ${run.id}`)
    expect(existsSync(report)).toBe(true)
    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>/i)

    await press(inst, ENTER)
    await frameWith(inst, 'causes of')
    await press(inst, 'a')
    f = await frameWith(inst, '60 compared vs recorded')
    const first = rows(f)[0]!.id
    await press(inst, 'y')
    f = await frameWith(inst, `copied ${first} to the clipboard`)
    expect(copied).toEqual([first])
    inst.unmount()
  })

  it('copies by OSC 52: the text base64-encoded in ESC ] 52 ; c ; … BEL', () => {
    expect(osc52('req-1 é')).toBe(`\u001b]52;c;${Buffer.from('req-1 é').toString('base64')}\u0007`)
  })
})
