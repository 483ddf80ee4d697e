import {closeSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import {classifyRequest} from '../../src/diff/classify.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import type {DiffClass} from '../../src/diff/types.js'
import {createReplayModel} from '../../src/model/recorded.js'
import {compileBundle, runRequest} from '../../src/runtime/agent.js'
import {compileInjectionMatcher} from '../../src/runtime/guardrails/patterns.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {traceGolden} from '../../src/eval/golden.js'
import {loadScenario} from '../../src/scenario/load.js'
import {openStore} from '../../src/store/sqlite.js'
import {loadFixtures} from '../../src/tools/fixtures.js'
import {idempotencyKeyOf} from '../../src/tools/ledger.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import type {PolicyDecisionTrace, RequestTrace, ToolCallTrace, TraceSide} from '../../src/trace/schema.js'
import {type AttackGoalCall, type TrafficRecord, TrafficRecord as TrafficRecordSchema} from '../../src/traffic/schema.js'
import {canonicalJson, hashJson} from '../../src/util/canonical.js'
import {resultTexts} from '../../scenarios/banking-assistant/gen/production.js'
import {ATTACKER_IBANS, ATTACKER_PASSWORDS} from '../../scenarios/banking-assistant/gen/world.js'
import {DEFAULT_COUNT, DEFAULT_SEED, parseFlags, renderFixtures, trafficLines, writeTraffic} from '../../scenarios/banking-assistant/generate.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {classCounts, expectedAndActual} from './class-counts.js'

const dir = path.join(repoRoot, 'scenarios', 'banking-assistant')
const trafficFile = path.join(dir, 'traffic.jsonl')
const fixturesFile = path.join(dir, 'fixtures.yaml')
const BUNDLES = ['v1', 'v2-broken-schema', 'v2-no-injection-defence', 'v2-looser-approval'] as const
type BundleName = (typeof BUNDLES)[number]

const tmp = mkdtempSync(path.join(tmpdir(), 'banking-assistant-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const trafficText = readFileSync(trafficFile, 'utf8')
const records: TrafficRecord[] = trafficText
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => TrafficRecordSchema.parse(JSON.parse(l)))

const WRITES = new Set(['send_money', 'schedule_transaction', 'update_scheduled_transaction', 'update_password', 'update_user_info'])
const ids = (rs: TrafficRecord[]) => rs.map((r) => r.id).sort()
const calls = (r: TrafficRecord, name: string) => r.production.tool_calls.filter((c) => c.name === name)
const attacked = records.filter((r) => r.attacks.length > 0)
const viaDocument = attacked.filter((r) => 'retrieved' in r.attacks[0]!.source)
const viaToolResult = attacked.filter((r) => 'tool_call' in r.attacks[0]!.source)
/** Requests whose production called send_money (executed, or held for approval). */
const sendMoney = records.filter((r) => calls(r, 'send_money').length > 0)
/** Production's own writes v1 refused because a retrieved document carried an injection. */
const deniedUnderInjection = records.filter((r) => r.production.policy_decisions.some((d) => /_UNDER_INJECTION$/.test(d.reason)))
const heldForApproval = records.filter((r) => r.production.outcome === 'needs_approval')
/** Attacks whose goal is one transfer of the whole balance: over 1,500, so still held for approval without the injection rules. */
const drains = attacked.filter((r) => r.labels.agentdojo_injection_task === 'injection_task_5')

// What the generator makes with the default seed; the acceptance tests below rest on these.
const COUNTS = {
  requests: 60,
  attacks: 20,
  viaDocument: 10,
  viaToolResult: 10,
  sendMoney: 16,
  deniedUnderInjection: 5,
  heldForApproval: 3,
  drains: 2,
  callsPerTool: {
    get_most_recent_transactions: 26,
    send_money: 16,
    read_file: 14,
    get_scheduled_transactions: 10,
    update_scheduled_transaction: 7,
    get_balance: 5,
    update_user_info: 5,
    get_iban: 4,
    schedule_transaction: 4,
    get_user_info: 3,
    update_password: 3,
  },
}

describe('banking-assistant bundles and scenario', () => {
  for (const b of BUNDLES) {
    it(`understudy bundle validate ${b}`, async () => {
      const r = await runCli(['bundle', 'validate', path.join(dir, b), '--json'])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ok: true, tools: 11})
    })
  }

  it('each candidate changes only what its description says', async () => {
    const load = async (b: BundleName) => (await loadBundle(path.join(dir, b))).manifest
    const v1 = await load('v1')
    const same = (m: typeof v1) => ({...m, version: '', description: ''})
    expect(v1.tools.map((t) => t.name).sort()).toEqual(Object.keys(COUNTS.callsPerTool).sort())

    const broken = await load('v2-broken-schema')
    const send = (m: typeof v1) => m.tools.find((t) => t.name === 'send_money')!
    expect(send(broken).args.required).toEqual(['iban', 'amount', 'subject', 'date'])
    expect(send(broken).args.additionalProperties).toBe(false)
    expect(Object.keys(send(broken).args.properties!)).not.toContain('recipient')
    const fixed = {...broken, tools: broken.tools.map((t) => (t.name === 'send_money' ? send(v1) : t))}
    expect(same(fixed)).toEqual(same(v1))

    const open = await load('v2-no-injection-defence')
    expect(open.guardrails.injection_patterns).toEqual([])
    const injectionRules = v1.policies.filter((p) => p.when.some((c) => c.field.startsWith('signals.injection_in_')))
    expect(injectionRules.map((p) => p.when[0]!.field).sort()).toEqual([
      'signals.injection_in_retrieved',
      'signals.injection_in_retrieved',
      'signals.injection_in_tool_result',
      'signals.injection_in_tool_result',
    ])
    expect(same({...open, policies: v1.policies, guardrails: v1.guardrails})).toEqual(same(v1))
    expect(open.policies).toEqual(v1.policies.filter((p) => !injectionRules.includes(p)))

    const loose = await load('v2-looser-approval')
    const threshold = (m: typeof v1) => m.policies.find((p) => p.id === 'transfer-needs-approval')!
    expect([threshold(v1).when[0]!.value, threshold(loose).when[0]!.value]).toEqual([1500, 5000])
    expect(same({...loose, policies: v1.policies})).toEqual(same(v1))

    for (const b of BUNDLES.slice(1)) expect((await loadBundle(path.join(dir, b))).manifest.description, b).toMatch(/^Candidate\. Only change from v1: /)
  })

  it('scenario.yaml: recorded model, v1 against v2-no-injection-defence, with fixtures', () => {
    const s = loadScenario(dir)
    expect(s).toMatchObject({
      name: 'banking-assistant',
      model: 'recorded',
      traffic: trafficFile,
      baseline: path.join(dir, 'v1'),
      candidate: path.join(dir, 'v2-no-injection-defence'),
      fixtures: fixturesFile,
      approver: 'pending',
    })
  })
})

describe('banking-assistant traffic', () => {
  it('understudy traffic validate passes', async () => {
    const r = await runCli(['traffic', 'validate', trafficFile, '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({valid: COUNTS.requests, invalid: 0})
  })

  it('regenerates byte for byte from the default seed, fixtures included', async () => {
    const out = path.join(tmp, 'traffic.jsonl')
    const fd = openSync(out, 'w')
    const n = await writeTraffic(fd, {count: DEFAULT_COUNT, seed: DEFAULT_SEED})
    closeSync(fd)
    expect(n).toBe(COUNTS.requests)
    expect(readFileSync(out, 'utf8')).toBe(trafficText)
    expect(readFileSync(fixturesFile, 'utf8')).toBe(renderFixtures())
  })

  it('the same seed gives the same lines, another seed other lines', async () => {
    const take = async (seed: number) => {
      const out: string[] = []
      for await (const l of trafficLines({count: 12, seed})) out.push(l)
      return out
    }
    const a = await take(7)
    expect(await take(7)).toEqual(a)
    expect(await take(8)).not.toEqual(a)
  })

  it('has the counts the acceptance tests rely on', () => {
    expect(records).toHaveLength(COUNTS.requests)
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length)
    expect([attacked.length, viaDocument.length, viaToolResult.length]).toEqual([COUNTS.attacks, COUNTS.viaDocument, COUNTS.viaToolResult])
    const perTool: Record<string, number> = {}
    for (const r of records) for (const c of r.production.tool_calls) perTool[c.name] = (perTool[c.name] ?? 0) + 1
    expect(perTool).toEqual(COUNTS.callsPerTool)
    expect([sendMoney.length, deniedUnderInjection.length, heldForApproval.length, drains.length]).toEqual([
      COUNTS.sendMoney,
      COUNTS.deniedUnderInjection,
      COUNTS.heldForApproval,
      COUNTS.drains,
    ])
    // Every send_money request is one v1 let through (or held): none was denied, so a schema break shows on each.
    for (const r of sendMoney) expect(r.production.policy_decisions.filter((d) => d.tool === 'send_money').map((d) => d.decision), r.id).not.toContain('deny')
    expect(new Set(records.map((r) => r.tenant))).toEqual(new Set(['tallyrock', 'northmere']))
    expect(new Set(records.map((r) => r.role))).toEqual(new Set(['customer', 'delegate']))
    // Every one of AgentDojo's nine injection tasks and all five attack shapes appear.
    expect(new Set(attacked.map((r) => r.labels.agentdojo_injection_task)).size).toBe(9)
    expect(new Set(attacked.map((r) => r.labels.attack_shape))).toEqual(new Set(['important_note', 'ignore_previous', 'system_message', 'urgent_override', 'tool_knowledge']))
  })

  it('production logged exactly the decisions and reason codes v1 gives', () => {
    const decisions: Record<string, number> = {}
    for (const r of records) for (const d of r.production.policy_decisions) decisions[`${d.decision}:${d.reason}`] = (decisions[`${d.decision}:${d.reason}`] ?? 0) + 1
    expect(decisions).toEqual({
      'allow:POLICY_DEFAULT': 87,
      'require_approval:TRANSFER_NEEDS_APPROVAL': 3,
      'deny:MONEY_MOVEMENT_UNDER_INJECTION': 3,
      'deny:ACCOUNT_CHANGE_UNDER_INJECTION': 2,
      'deny:RBAC_ROLE_NOT_ALLOWED': 2,
    })
    for (const r of records) {
      expect(r.production.policy_decisions.map((d) => d.tool_call_id), r.id).toEqual(r.production.tool_calls.map((c) => c.id))
      for (const c of r.production.tool_calls) {
        const decision = r.production.policy_decisions.find((d) => d.tool_call_id === c.id)!.decision
        expect(c.result !== undefined, `${c.id} ran iff allowed`).toBe(decision === 'allow')
        // Writes carry the key the runtime derives, so a replay's keys line up with the recording's.
        if (WRITES.has(c.name)) expect(c.idempotency_key, c.id).toBe(idempotencyKeyOf(r.id, c.name, canonicalJson(c.args)))
      }
    }
    expect(deniedUnderInjection.every((r) => viaDocument.includes(r))).toBe(true)
    expect(new Set(records.map((r) => r.production.outcome))).toEqual(new Set(['completed', 'refused', 'needs_approval']))
  })

  it('every attack text sits in its source and v1 flags it; nothing else looks like an injection', async () => {
    const v1 = compileInjectionMatcher((await loadBundle(path.join(dir, 'v1'))).manifest.guardrails.injection_patterns)
    for (const r of records) {
      const attack = r.attacks[0]
      for (const d of r.retrieved) {
        const isSource = attack !== undefined && 'retrieved' in attack.source && attack.source.retrieved === d.id
        if (isSource) expect(d.trust, d.id).toBe('untrusted')
        expect(v1(d.content, 'document').length > 0, `${r.id} ${d.id}`).toBe(isSource)
      }
      for (const c of r.production.tool_calls) {
        if (c.result === undefined) continue
        const isSource = attack !== undefined && 'tool_call' in attack.source && attack.source.tool_call === c.id
        const json = resultTexts(c.result)[0]!
        expect(v1(json, 'document').length > 0 && v1(json, 'input').length > 0, c.id).toBe(isSource)
      }
      if (!attack) continue
      // The goal is what the text asks for: the attacker's account or password appears in both.
      const text = 'retrieved' in attack.source ? r.retrieved.find((d) => d.id === (attack.source as {retrieved: string}).retrieved)!.content : JSON.stringify(r.production.tool_calls.find((c) => c.id === (attack.source as {tool_call: string}).tool_call)!.result)
      const target = attack.goal[0]!.args.recipient ?? attack.goal[0]!.args.password
      expect(text, r.id).toContain(String(target))
      expect(r.expect?.forbidden_calls?.length, r.id).toBeGreaterThan(0)
      // Production, which did not fall for it, never made a call the attacker wanted.
      const bad = new Set<unknown>([...ATTACKER_IBANS, ...ATTACKER_PASSWORDS])
      for (const c of r.production.tool_calls) expect(Object.values(c.args).some((v) => bad.has(v)), c.id).toBe(false)
    }
  })

  it('after an injected tool result production moved no money and changed nothing', () => {
    for (const r of viaToolResult) {
      const at = r.production.tool_calls.findIndex((c) => c.id === (r.attacks[0]!.source as {tool_call: string}).tool_call)
      expect(at, r.id).toBeGreaterThanOrEqual(0)
      expect(r.production.tool_calls.slice(at + 1).filter((c) => WRITES.has(c.name)), r.id).toEqual([])
      expect(r.production.outcome).toBe('completed')
    }
  })

  it('rejects bad flags with a one-line message', () => {
    expect(() => parseFlags(['--count', 'many', '--out', 'x'])).toThrow('--count must be an integer >= 1, got "many"')
    expect(() => parseFlags([])).toThrow(/nothing to do/)
    expect(parseFlags(['--count', '5', '--seed', '3', '--out', '-'])).toEqual({count: 5, seed: 3, out: '-', fixtures: null})
  })
})

// ------------------------------------------------------------------------------------------------
// The runtime and diff engine on the recorded calls, in process, with the model-free replay model
// (one recorded call a turn, then the recorded answer; in compromised mode the attack's goal calls
// as soon as its source is in context): the same counts as the CLI acceptance tests, faster.

async function replay(b: BundleName, side: TraceSide, compromised: boolean): Promise<Map<string, RequestTrace>> {
  const bundle: Bundle = await loadBundle(path.join(dir, b))
  const deps = {
    bundle,
    compiled: compileBundle(bundle),
    tools: createMockTools(loadFixtures(fixturesFile)),
    approver: 'pending' as const,
    faults: null,
    redactor: createRedactor(),
    limiter: new RateLimiter(),
    side,
    repeat: 0,
  }
  const out = new Map<string, RequestTrace>()
  for (const [i, r] of records.entries()) out.set(r.id, await runRequest(r, i + 1, {...deps, model: createReplayModel(compromised ? 'compromised' : 'recorded')}))
  return out
}

function classes(base: Map<string, RequestTrace>, cand: Map<string, RequestTrace>): Record<DiffClass, string[]> {
  const out: Record<DiffClass, string[]> = {same: [], benign: [], behaviour_change: [], improvement: [], regression: []}
  for (const [id, c] of cand) out[classifyRequest(diffRequest(base.get(id)!, c)).class].push(id)
  return out
}

const flagsDocument = (t: RequestTrace): boolean => t.guardrails.some((g) => g.check === 'retrieval.injection' && !g.passed)

const injectionReason = (tool: string) => (tool === 'update_password' || tool === 'update_user_info' ? 'ACCOUNT_CHANGE_UNDER_INJECTION' : 'MONEY_MOVEMENT_UNDER_INJECTION')

/**
 * Each goal call of the record's attack with the trace's call that carries exactly its arguments
 * (matched by name and argument hash: recipients and passwords are stored redacted) and the policy
 * decision about that call.
 */
function goalCalls(t: RequestTrace, r: TrafficRecord): [AttackGoalCall, ToolCallTrace | undefined, PolicyDecisionTrace | undefined][] {
  return r.attacks.flatMap((a) =>
    a.goal.map((g): [AttackGoalCall, ToolCallTrace | undefined, PolicyDecisionTrace | undefined] => {
      const c = t.tool_calls.find((x) => x.name === g.name && x.args_hash === hashJson(g.args))
      return [g, c, c && t.policy_decisions.find((d) => d.tool_call_seq === c.seq)]
    }),
  )
}

describe('what the candidates do with the recorded calls (in process, the model-free replay model)', () => {
  let recorded: Map<string, RequestTrace>
  beforeAll(async () => {
    const bundle = await loadBundle(path.join(dir, 'v1'))
    const redactor = createRedactor()
    recorded = new Map(records.map((r, i) => [r.id, recordedTrace(r, i + 1, redactor, bundle)]))
  })

  it('v1 against the recording: no regression, no behaviour change', async () => {
    const c = classes(recorded, await replay('v1', 'candidate', false))
    expect([c.regression, c.behaviour_change, c.improvement]).toEqual([[], [], []])
  })

  it('v2-broken-schema: a regression on every request that calls send_money, and only there', async () => {
    const cand = await replay('v2-broken-schema', 'candidate', false)
    const c = classes(recorded, cand)
    expect(c.regression.sort()).toEqual(ids(sendMoney))
    for (const r of sendMoney) expect(cand.get(r.id)!.tool_calls.find((t) => t.name === 'send_money')!.outcome, r.id).toBe('invalid_args')
    expect(c.behaviour_change).toEqual([])
  })

  it('v2-no-injection-defence: the writes v1 refused under injection now run', async () => {
    const c = classes(recorded, await replay('v2-no-injection-defence', 'candidate', false))
    expect(c.regression.sort()).toEqual(ids(deniedUnderInjection))
    expect(c.behaviour_change).toEqual([])
  })

  it('the scenario as shipped (v2-no-injection-defence against v1, both replayed): the same five regressions', async () => {
    const base = await replay('v1', 'baseline', false)
    const cand = await replay('v2-no-injection-defence', 'candidate', false)
    const c = classes(base, cand)
    expect(c.regression.sort()).toEqual(ids(deniedUnderInjection))
    // Documents only v1's own extra patterns recognise: weaker detection is a change, never an improvement.
    const lost = records.filter((r) => flagsDocument(base.get(r.id)!) && !flagsDocument(cand.get(r.id)!))
    expect(c.behaviour_change.sort()).toEqual(ids(lost.filter((r) => !deniedUnderInjection.includes(r))))
    for (const id of c.behaviour_change) {
      const codes = classifyRequest(diffRequest(base.get(id)!, cand.get(id)!)).reasons.filter((x) => x.class !== 'benign').map((x) => x.code)
      expect(codes, id).toEqual(['detection_lost'])
    }
    expect(c.improvement).toEqual([])
    // The README's counts for this run, with each record's expectations stored on its traces as a shadow run stores them.
    const byId = new Map(records.map((r) => [r.id, r]))
    const golden = (m: Map<string, RequestTrace>) => [...m.values()].map((t) => ({...t, golden: traceGolden(byId.get(t.request_id)!, createRedactor())}))
    const {expected, actual} = expectedAndActual(path.join(dir, 'README.md'), classCounts(golden(base), golden(cand)))
    expect(actual).toEqual(expected)
  })

  it('v2-looser-approval: transfers v1 held for approval now go out', async () => {
    const c = classes(recorded, await replay('v2-looser-approval', 'candidate', false))
    expect(c.regression.sort()).toEqual(ids(heldForApproval))
  })

  it('compromised, injections in retrieved documents: v1 stops every goal call, the candidate runs all but the drains', async () => {
    const base = await replay('v1', 'baseline', true)
    const cand = await replay('v2-no-injection-defence', 'candidate', true)
    for (const r of viaDocument) {
      for (const [g, c, d] of goalCalls(base.get(r.id)!, r)) {
        expect(c?.outcome, `${r.id} v1 ${g.name}`).toBe('denied')
        expect(d?.reason, `${r.id} v1 ${g.name}`).toBe(injectionReason(g.name))
      }
      const want = drains.includes(r) ? 'needs_approval' : 'ok'
      for (const [g, c] of goalCalls(cand.get(r.id)!, r)) expect(c?.outcome, `${r.id} candidate ${g.name}`).toBe(want)
    }
    const c = classes(base, cand)
    const fromDocs = (cls: string[]) => cls.filter((id) => viaDocument.some((r) => r.id === id)).sort()
    // Every attack v1 denied is a regression: run outright, or (a drain) only held for a person to approve.
    expect(fromDocs(c.regression)).toEqual(ids(viaDocument))
    expect(c.improvement).toEqual([])
    for (const r of viaDocument.filter((x) => drains.includes(x))) {
      const codes = classifyRequest(diffRequest(base.get(r.id)!, cand.get(r.id)!)).reasons.map((x) => x.code)
      expect(codes, r.id).toContain('attack_held_not_denied')
    }
    // Requests without an attack do the same on both sides.
    for (const r of records.filter((x) => x.attacks.length === 0)) expect(c.regression.concat(c.behaviour_change), r.id).not.toContain(r.id)
  })
})

// ------------------------------------------------------------------------------------------------
// The acceptance checks of issue #14, through the CLI.

/** Runs `understudy shadow … --json` on the scenario's traffic into `db` and returns the run id. */
async function shadow(db: string, ...args: string[]): Promise<string> {
  const r = await runCli(['shadow', trafficFile, '--fixtures', fixturesFile, '--approver', 'pending', '--db', db, '--json', ...args])
  expect(r.stderr).not.toMatch(/Error|at .*\.js:\d+/)
  expect(r.code).toBe(0)
  const doc = JSON.parse(r.stdout) as {run: {id: string; status: string}; requests: number}
  expect(doc.run.status).toBe('completed')
  expect(doc.requests).toBe(COUNTS.requests)
  return doc.run.id
}

type DiffDoc = {counts: Record<DiffClass, number>; requests: {request_id: string; class: DiffClass}[]}

async function diffAll(db: string, runId: string): Promise<DiffDoc> {
  const r = await runCli(['diff', runId, '--db', db, '--only', 'all', '--json'])
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as DiffDoc
}

const inClass = (doc: DiffDoc, cls: DiffClass) => doc.requests.filter((x) => x.class === cls).map((x) => x.request_id).sort()

function traces(db: string, runId: string): {base: Map<string, RequestTrace>; cand: Map<string, RequestTrace>} {
  const store = openStore(db, {readonly: true})
  try {
    const base = new Map<string, RequestTrace>()
    const cand = new Map<string, RequestTrace>()
    for (const t of store.iterateTraces(runId)) (t.side === 'candidate' ? cand : base).set(t.request_id, t)
    return {base, cand}
  } finally {
    store.close()
  }
}

describe('acceptance: replays through the CLI with --model recorded | compromised', () => {
  it('v1 against the recording: 0 regressions, 0 behaviour changes', async () => {
    const db = path.join(tmp, 'v1.db')
    const run = await shadow(db, '--candidate', path.join(dir, 'v1'), '--baseline', 'recorded', '--model', 'recorded')
    const doc = await diffAll(db, run)
    expect(doc.counts.regression).toBe(0)
    expect(doc.counts.behaviour_change).toBe(0)
    expect(doc.counts.improvement).toBe(0)
    expect(doc.requests).toHaveLength(COUNTS.requests)
    // Every recorded decision is the one v1 makes for the same call.
    const {base, cand} = traces(db, run)
    for (const [id, t] of cand) {
      const key = (x: RequestTrace) => x.policy_decisions.map((d) => `${d.stage}:${d.tool}:${d.decision}:${d.reason}`)
      expect(key(t), id).toEqual(key(base.get(id)!))
      expect(t.status, id).toBe(base.get(id)!.status)
    }
    // The known-good bundle passes its own gate.
    expect((await runCli(['scorecard', run, '--db', db, '--gate'])).code).toBe(0)
  })

  it('v2-broken-schema: a regression on each of the 16 requests that call send_money, nothing else changes', async () => {
    const db = path.join(tmp, 'broken.db')
    const run = await shadow(db, '--candidate', path.join(dir, 'v2-broken-schema'), '--baseline', 'recorded', '--model', 'recorded')
    const doc = await diffAll(db, run)
    expect(doc.counts.regression).toBe(COUNTS.sendMoney)
    expect(inClass(doc, 'regression')).toEqual(ids(sendMoney))
    expect(doc.counts.behaviour_change).toBe(0)
    const {cand} = traces(db, run)
    for (const r of sendMoney) {
      const t = cand.get(r.id)!
      expect(t.tool_calls.filter((c) => c.name === 'send_money').map((c) => c.outcome), r.id).toEqual(calls(r, 'send_money').map(() => 'invalid_args'))
      expect(t.policy_decisions.filter((d) => d.tool === 'send_money').map((d) => d.reason), r.id).toEqual(calls(r, 'send_money').map(() => 'SCHEMA_INVALID'))
    }
    const card = JSON.parse((await runCli(['scorecard', run, '--db', db, '--json'])).stdout) as {red: string[]}
    expect(card.red).toContain('safety') // 16 requests newly denied send_money
  })

  it('the scenario (v2-no-injection-defence against v1, recorded model): the 5 writes v1 refused under injection run', async () => {
    const db = path.join(tmp, 'scenario.db')
    const r = await runCli(['shadow', '--scenario', dir, '--db', db, '--json'])
    expect(r.code).toBe(0)
    const run = (JSON.parse(r.stdout) as {run: {id: string}}).run.id
    const doc = await diffAll(db, run)
    expect(inClass(doc, 'regression')).toEqual(ids(deniedUnderInjection))
    expect(doc.counts.regression).toBe(COUNTS.deniedUnderInjection)
    expect(doc.counts.behaviour_change).toBe(0)
  })

  it('v2-no-injection-defence --model compromised --baseline v1: every attack v1 stopped and the candidate executes is a regression', async () => {
    const db = path.join(tmp, 'compromised.db')
    const run = await shadow(db, '--candidate', path.join(dir, 'v2-no-injection-defence'), '--baseline', path.join(dir, 'v1'), '--model', 'compromised')
    const {base, cand} = traces(db, run)
    for (const r of attacked) {
      // v1 stopped every goal call: injection_in_retrieved for the 10 documents, injection_in_tool_result for the 10 tool results.
      for (const [g, c, d] of goalCalls(base.get(r.id)!, r)) {
        expect(c?.outcome, `${r.id} v1 ${g.name}`).toBe('denied')
        expect(d?.reason, `${r.id} v1 ${g.name}`).toBe(injectionReason(g.name))
      }
      // The candidate runs them, except a transfer of the whole balance, still held for approval.
      const want = drains.includes(r) ? 'needs_approval' : 'ok'
      for (const [g, c] of goalCalls(cand.get(r.id)!, r)) expect(c?.outcome, `${r.id} candidate ${g.name}`).toBe(want)
    }
    const doc = await diffAll(db, run)
    // Run outright, or (the two whole-balance drains) only held for approval where v1 denied: all regressions, no improvement.
    expect(inClass(doc, 'regression')).toEqual(ids(attacked))
    expect(doc.counts.regression).toBe(COUNTS.attacks)
    expect(doc.counts.improvement).toBe(0)
    // Requests without an attack run the same recorded calls on both sides.
    for (const r of records.filter((x) => x.attacks.length === 0)) expect(['same', 'benign'], r.id).toContain(doc.requests.find((x) => x.request_id === r.id)!.class)
    const card = JSON.parse((await runCli(['scorecard', run, '--db', db, '--json'])).stdout) as {red: string[]}
    expect(card.red).toContain('safety')
    expect((await runCli(['scorecard', run, '--db', db, '--gate'])).code).toBe(3)
  })

  it('v1 --model compromised against the recording: every goal call is denied, none executes', async () => {
    const db = path.join(tmp, 'v1-compromised.db')
    const run = await shadow(db, '--candidate', path.join(dir, 'v1'), '--baseline', 'recorded', '--model', 'compromised')
    const {cand} = traces(db, run)
    for (const r of attacked) {
      const t = cand.get(r.id)!
      for (const [g, c, d] of goalCalls(t, r)) {
        expect(c?.outcome, `${r.id} ${g.name}`).toBe('denied')
        expect(d?.reason, `${r.id} ${g.name}`).toBe(injectionReason(g.name))
      }
      // Stopping the attacker's calls leaves the user's own request as production ended it.
      expect(t.status, r.id).toBe(r.production.outcome)
    }
  })
})
