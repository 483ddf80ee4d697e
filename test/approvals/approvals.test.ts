import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {degrade} from '../../src/incident/variants.js'
import {writeBundle} from '../../src/incident/write-bundle.js'
import {heldActions} from '../../src/runs/approvals.js'
import {applyApprovals, decideApprovals} from '../../src/shadow/approvals.js'
import {resumeShadow, startShadow} from '../../src/shadow/run.js'
import type {SqliteTraceStore} from '../../src/store/sqlite.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {repoRoot} from '../helpers/cli.js'
import {removeTempDirs} from '../factories/temp-dir.js'
import {tempStore} from '../factories/store.js'

let dir: string
let store: SqliteTraceStore

beforeEach(() => {
  ;({dir, store} = tempStore({prefix: 'understudy-approvals-'}))
})
afterEach(() => {
  store.close()
  removeTempDirs()
})

const candidateTraces = (runId: string): RequestTrace[] => [...store.iterateTraces(runId, {side: 'candidate'})]
const statuses = (runId: string): string[] => candidateTraces(runId).map((t) => t.status)

describe('approvals on the shipped banking scenario (v2 holds large transfers)', () => {
  const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')
  const input = {
    traffic: path.join(scenario, 'traffic.jsonl'),
    candidate: path.join(scenario, 'v2-no-injection-defence'),
    fixtures: path.join(scenario, 'fixtures.yaml'),
    model: 'recorded',
    approver: 'pending' as const,
  }

  it('approving every held action and applying it leaves no request waiting for approval', async () => {
    const {run} = await startShadow(input, store)
    const held = heldActions(store, run)
    expect(held.length).toBeGreaterThan(0)
    expect(statuses(run.id).filter((s) => s === 'needs_approval')).toHaveLength(new Set(held.map((h) => h.request_id)).size)
    for (const h of held) {
      expect(h.ref).toBe(`${h.request_id}#${h.seq}`)
      expect(h.rule).toBe('transfer-needs-approval')
      expect(h.reason).toBe('TRANSFER_NEEDS_APPROVAL')
      expect(h.decision).toBeNull()
    }

    const decided = decideApprovals(store, run, {approveAll: true, by: 'alice', reason: 'called the customer', at: '2026-12-04T10:00:00.000Z'})
    expect(decided.decided.map((d) => d.ref)).toEqual(held.map((h) => h.ref))
    expect(heldActions(store, run).every((h) => h.decision === 'approved' && h.decided_by === 'alice')).toBe(true)

    const applied = await applyApprovals(store, run.id)
    const next = applied.run
    expect(next.id).not.toBe(run.id)
    expect(next.status).toBe('completed')
    expect(statuses(next.id)).not.toContain('needs_approval')
    expect(heldActions(store, next)).toEqual([])
    // Every request is in the new run; only the decided ones were replayed.
    expect(store.countTraces(next.id)).toBe(store.countTraces(run.id))
    const replayed = new Set(held.map((h) => h.request_id)).size
    expect(applied.progress.requests).toBe(replayed)
    expect(applied.progress.already_stored).toBe(store.countTraces(run.id, {side: 'candidate'}) - replayed)
    for (const h of held) {
      const [t] = [...store.iterateTraces(next.id, {side: 'candidate', requestId: h.request_id})]
      const call = t!.tool_calls.find((c) => c.name === h.tool && c.args_hash === h.args_hash)!
      expect(call.outcome).toBe('ok')
      expect(call.executed).toBe(true)
      expect(call.approval).toEqual({decision: 'approved', by: 'alice', at: '2026-12-04T10:00:00.000Z', reason: 'called the customer'})
      const decisions = t!.policy_decisions.filter((d) => d.tool_call_seq === call.seq)
      expect(decisions.map((d) => [d.decision, d.rule])).toEqual([
        ['require_approval', 'transfer-needs-approval'],
        ['allow', 'approval'],
      ])
    }
    // Requests nobody decided are the decided run's traces, byte for byte.
    const untouched = candidateTraces(run.id).filter((t) => !held.some((h) => h.request_id === t.request_id))
    const copied = candidateTraces(next.id).filter((t) => !held.some((h) => h.request_id === t.request_id))
    expect(copied).toEqual(untouched)
  })

  it('a rejected call is refused APPROVAL_REJECTED; an undecided one stays held; unknown refs are one error naming them', async () => {
    const {run} = await startShadow(input, store)
    const held = heldActions(store, run)
    expect(held.length).toBeGreaterThanOrEqual(2)
    expect(() => decideApprovals(store, run, {approve: [held[0]!.ref, 'nope#3', 'bank-x#0'], by: 'bob'})).toThrow(
      `run ${run.id} holds no call "nope#3", "bank-x#0"`,
    )
    expect(store.listApprovals(run.id)).toEqual([])
    expect(() => decideApprovals(store, run, {approve: [held[0]!.ref], reject: [held[0]!.ref]})).toThrow('both --approve and --reject')

    decideApprovals(store, run, {reject: [held[0]!.ref], by: 'bob', reason: 'wrong account'})
    const applied = await applyApprovals(store, run.id)
    const [t] = [...store.iterateTraces(applied.run.id, {side: 'candidate', requestId: held[0]!.request_id})]
    const call = t!.tool_calls.find((c) => c.args_hash === held[0]!.args_hash)!
    expect(call.outcome).toBe('denied')
    expect(call.executed).toBe(false)
    expect(call.error).toMatch(/^APPROVAL_REJECTED: approval rejected: wrong account/)
    expect(call.approval?.decision).toBe('rejected')
    expect(t!.status).not.toBe('needs_approval')
    // The others nobody decided are still held in the new run, under the same refs.
    expect(heldActions(store, applied.run).map((h) => h.ref)).toEqual(held.slice(1).map((h) => h.ref))
  })
})

// ------------------------------------------------------------------ a domain the code has never seen

const GREENHOUSE = `name: greenhouse
version: 0.1.0
model: {provider: scripted, name: greenhouse-script}
agent: {mode: react}
prompts: {system: prompts/system.md}
tools:
  - name: read_moisture
    description: Soil moisture of a bed.
    risk: read
    args: {type: object, properties: {bed: {type: string}}, required: [bed]}
    roles: {"*": [grower]}
  - name: open_valve
    description: Water a bed.
    risk: write_high
    idempotency: required
    args: {type: object, properties: {bed: {type: string}, litres: {type: number}}, required: [bed, litres]}
    roles: {"*": [grower]}
policies:
  - id: big-watering
    effect: require_approval
    reason: FLOOD_RISK
    tools: [open_valve]
    when: [{field: args.litres, op: gt, value: 40}]
budgets: {max_steps: 6, max_tool_calls: 4, max_total_tokens: 8000, max_retries: 1}
`

function greenhouseLine(id: string, litres: number): string {
  const held = litres > 40
  return JSON.stringify({
    id,
    timestamp: '2026-06-01T06:00:00Z',
    tenant: 'north-farm',
    user: 'ines',
    role: 'grower',
    input: [{role: 'user', content: `Water bed B${litres} if it is dry.`}],
    production: {
      tool_calls: [
        {id: `${id}-1`, name: 'read_moisture', args: {bed: `B${litres}`}, result: {moisture: 0.12}, latency_ms: 3, attempt: 1},
        {id: `${id}-2`, name: 'open_valve', args: {bed: `B${litres}`, litres}, ...(held ? {} : {result: {opened: true}}), latency_ms: 5, attempt: 1},
      ],
      policy_decisions: held ? [{stage: 'mid_run', tool_call_id: `${id}-2`, tool: 'open_valve', decision: 'require_approval', reason: 'FLOOD_RISK'}] : [],
      final_answer: held ? 'Watering waits for approval.' : 'Watered.',
      outcome: held ? 'needs_approval' : 'completed',
      usage: {input_tokens: 100, output_tokens: 10},
      latency_ms: 50,
    },
  })
}

function greenhouse(): {traffic: string; candidate: string; fixtures: string; model: string} {
  const bundle = path.join(dir, 'greenhouse')
  mkdirSync(path.join(bundle, 'prompts'), {recursive: true})
  writeFileSync(path.join(bundle, 'bundle.yaml'), GREENHOUSE)
  writeFileSync(path.join(bundle, 'prompts', 'system.md'), 'You water {{tenant}} beds. Tools: {{tools}}.')
  writeFileSync(path.join(dir, 'fixtures.yaml'), 'tools:\n  open_valve:\n    default: {result: {opened: true}}\n')
  const traffic = path.join(dir, 'traffic.jsonl')
  writeFileSync(traffic, [greenhouseLine('g-1', 10), greenhouseLine('g-2', 80), greenhouseLine('g-3', 120)].join('\n') + '\n')
  return {traffic, candidate: bundle, fixtures: path.join(dir, 'fixtures.yaml'), model: 'recorded'}
}

describe('approvals on a small domain of its own (greenhouse irrigation)', () => {
  it('says which decisions the replay never met instead of passing over them', async () => {
    const {run} = await startShadow(greenhouse(), store)
    const [h] = heldActions(store, run)
    // A decision about other arguments than the replay proposes (as after a model that changed its mind).
    store.recordApprovals(run.id, [{request_id: h!.request_id, seq: h!.seq, tool: h!.tool, args_hash: 'other', decision: 'approved', by: 'x', at: 'now', reason: null}])
    const applied = await applyApprovals(store, run.id)
    expect(applied.notices.at(-1)).toBe(`1 decision(s) found no matching call in the replay (the model proposed otherwise this time): ${h!.ref}`)
    expect(heldActions(store, applied.run).map((a) => a.ref)).toContain(h!.ref)
  })

  it('lists, decides from the held call, applies, and a resumed or chained apply keeps the decisions', async () => {
    const {run} = await startShadow(greenhouse(), store)
    const held = heldActions(store, run)
    expect(held.map((h) => [h.ref, h.tool, h.rule, h.reason, h.args])).toEqual([
      ['g-2#1', 'open_valve', 'big-watering', 'FLOOD_RISK', {bed: 'B80', litres: 80}],
      ['g-3#1', 'open_valve', 'big-watering', 'FLOOD_RISK', {bed: 'B120', litres: 120}],
    ])
    await expect(applyApprovals(store, run.id)).rejects.toThrow(`no decisions on run ${run.id}`)

    const file = path.join(dir, 'decisions.yaml')
    writeFileSync(file, 'by: ops-lead\ndecisions:\n  - {ref: "g-2#1", decision: approve, reason: dry spell}\n')
    decideApprovals(store, run, {file})
    const first = await applyApprovals(store, run.id)
    const byId = (runId: string) => new Map(candidateTraces(runId).map((t) => [t.request_id, t]))
    expect(byId(first.run.id).get('g-2')!.status).toBe('completed')
    expect(byId(first.run.id).get('g-2')!.tool_calls[1]!.approval).toMatchObject({decision: 'approved', by: 'ops-lead', reason: 'dry spell'})
    expect(byId(first.run.id).get('g-3')!.status).toBe('needs_approval')

    // Deciding on the applied run chains: g-2's earlier approval still holds when g-2 is not replayed,
    // and the new run carries both decisions in its config, so a resume would apply the same ones.
    decideApprovals(store, first.run, {approveAll: true, by: 'ops-lead'})
    const second = await applyApprovals(store, first.run.id)
    expect(statuses(second.run.id)).toEqual(['completed', 'completed', 'completed'])
    expect((second.run.config as {approvals: {decisions: unknown[]}}).approvals.decisions).toHaveLength(2)
    await expect(resumeShadow(second.run.id, store)).rejects.toThrow('already completed')
  })
})

describe('draft-only degraded mode on the shipped support scenario (the loop the issue found)', () => {
  it('ends every drafted request needs_approval instead of re-proposing held writes until the step budget', async () => {
    const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
    const v1 = await loadBundle(path.join(scenario, 'v1'))
    const degraded = await writeBundle(degrade(v1.manifest, 'draft_only'), v1.templates, path.join(dir, 'draft-only'), 'draft-only test variant')
    const {run} = await startShadow(
      {
        traffic: path.join(scenario, 'traffic.jsonl'),
        candidate: degraded.dir,
        fixtures: path.join(scenario, 'fixtures.yaml'),
        skills: [path.join(scenario, 'skill', 'index.ts')],
        limit: 120,
      },
      store,
    )
    const all = statuses(run.id)
    expect(all).toHaveLength(120)
    // Before the fix about half of them ended budget_exceeded (339 of 720 on the whole file).
    expect(all.filter((s) => s === 'budget_exceeded')).toEqual([])
    expect(all.filter((s) => s === 'needs_approval').length).toBeGreaterThan(0)
    expect(candidateTraces(run.id).every((t) => t.tool_calls.every((c) => !c.executed || c.risk === 'read'))).toBe(true)
  })
})
