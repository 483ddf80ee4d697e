import {closeSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {evaluateGolden, traceGolden} from '../../src/eval/golden.js'
import {createRedactor} from '../../src/runtime/redact.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {loadScenario} from '../../src/scenario/load.js'
import {startShadow} from '../../src/shadow/run.js'
import {openStore} from '../../src/store/sqlite.js'
import {type TrafficRecord, TrafficRecord as TrafficRecordSchema} from '../../src/traffic/schema.js'
import {CATEGORIES} from '../../scenarios/coding-agent/gen/sample.js'
import {CATALOGUE, REPOS, TENANTS} from '../../scenarios/coding-agent/gen/world.js'
import {DEFAULT_COUNT, DEFAULT_SEED, parseFlags, renderFixtures, trafficLines, writeTraffic} from '../../scenarios/coding-agent/generate.js'
import {repoRoot} from '../helpers/cli.js'
import {classCounts, expectedAndActual} from './class-counts.js'

const dir = path.join(repoRoot, 'scenarios', 'coding-agent')
const tmp = mkdtempSync(path.join(tmpdir(), 'coding-agent-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const trafficText = readFileSync(path.join(dir, 'traffic.jsonl'), 'utf8')
const records: TrafficRecord[] = trafficText
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => TrafficRecordSchema.parse(JSON.parse(l)))
const byId = new Map(records.map((r) => [r.id, r]))
const category = (r: TrafficRecord) => r.labels.category ?? ''

describe('coding-agent bundles and scenario', () => {
  it('both bundles load with the full loader', async () => {
    const v1 = await loadBundle(path.join(dir, 'v1'))
    const v2 = await loadBundle(path.join(dir, 'v2'))
    expect(v1.ref).toMatch(/^coding-agent@1\.2\.0#/)
    expect(v2.ref).toMatch(/^coding-agent@2\.0\.0#/)
    expect(v1.manifest.tools.map((t) => t.name)).toEqual([
      'search_code', 'read_file', 'run_tests', 'create_branch', 'write_file', 'open_pull_request', 'merge_pull_request', 'delete_branch', 'create_gist',
    ])
    const risk = Object.fromEntries(v1.manifest.tools.map((t) => [t.name, t.risk]))
    expect(risk).toMatchObject({search_code: 'read', read_file: 'read', run_tests: 'read', write_file: 'write_low', open_pull_request: 'write_low', merge_pull_request: 'write_high', delete_branch: 'write_high'})
    for (const t of v1.manifest.tools) if (t.risk !== 'read') expect(t.idempotency, t.name).toBe('required')
  })

  it('v2 differs from v1 in prompt, policy and the write_file schema', async () => {
    const v1 = await loadBundle(path.join(dir, 'v1'))
    const v2 = await loadBundle(path.join(dir, 'v2'))
    const system = (b: typeof v1) => b.templates[b.manifest.prompts.system]!
    expect(system(v1)).toContain('Open pull requests as drafts.')
    expect(system(v2)).not.toContain('Open pull requests as drafts.')
    expect(system(v2)).toContain('Run the tests before opening a pull request.')
    const protectedPaths = (b: typeof v1) => b.manifest.policies.find((p) => p.id === 'protected-paths')!.when[0]!.value as string
    expect(new RegExp(protectedPaths(v1), 'i').test('infra/k8s/deployment.yaml')).toBe(true)
    expect(new RegExp(protectedPaths(v2), 'i').test('infra/k8s/deployment.yaml')).toBe(false)
    for (const p of ['.github/workflows/ci.yml', 'secrets/README.md', '.env']) expect(new RegExp(protectedPaths(v2), 'i').test(p), p).toBe(true)
    const write = (b: typeof v1) => b.manifest.tools.find((t) => t.name === 'write_file')!.args
    expect(write(v1).required).toEqual(['path', 'content', 'branch', 'message'])
    expect(write(v2).required).toEqual(['path', 'content', 'branch', 'message', 'reason'])
    const maxLength = (args: Record<string, unknown>) => (args.properties as Record<string, {maxLength?: number}>).content!.maxLength
    expect([maxLength(write(v1)), maxLength(write(v2))]).toEqual([20000, 4000])
  })

  it('scenario.yaml resolves traffic, both bundles, fixtures and the approver', () => {
    const s = loadScenario(dir)
    expect(s).toMatchObject({name: 'coding-agent', approver: 'pending', traffic: path.join(dir, 'traffic.jsonl'), baseline: path.join(dir, 'v1'), candidate: path.join(dir, 'v2'), fixtures: path.join(dir, 'fixtures.yaml')})
  })

  it('the large files really are over v2\'s content limit', () => {
    for (const t of TENANTS) for (const e of CATALOGUE[t].largeEdits) expect(REPOS[t].files.get(e.path)!.length).toBeGreaterThan(4000)
  })
})

describe('coding-agent traffic', () => {
  it('regenerates byte for byte from the default seed', async () => {
    const out = path.join(tmp, 'traffic.jsonl')
    const fd = openSync(out, 'w')
    const n = await writeTraffic(fd, {count: DEFAULT_COUNT, seed: DEFAULT_SEED})
    closeSync(fd)
    expect(n).toBe(DEFAULT_COUNT)
    expect(readFileSync(out, 'utf8')).toBe(trafficText)
  })

  it('fixtures.yaml is the generated one', () => {
    expect(readFileSync(path.join(dir, 'fixtures.yaml'), 'utf8')).toBe(renderFixtures())
  })

  it('the same seed gives the same lines, another seed other lines', async () => {
    const take = async (seed: number) => {
      const out: string[] = []
      for await (const l of trafficLines({count: 25, seed})) out.push(l)
      return out
    }
    const a = await take(7)
    expect(await take(7)).toEqual(a)
    expect(await take(8)).not.toEqual(a)
  })

  it('has at least 300 valid lines over three teams with every category, most with expectations', () => {
    expect(records.length).toBeGreaterThanOrEqual(300)
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length)
    expect(new Set(records.map((r) => r.tenant))).toEqual(new Set(TENANTS))
    const cats = new Set(records.map(category))
    for (const [c] of CATEGORIES) expect(cats, c).toContain(c)
    expect(records.filter((r) => r.expect).length / records.length).toBeGreaterThan(0.6)
    expect(new Set(records.map((r) => r.role))).toEqual(new Set(['viewer', 'developer', 'maintainer']))
  })

  it('covers injected instructions, tool failures and retries, viewer writes, secrets and PII', () => {
    const injections = records.filter((r) => r.retrieved.some((d) => /gist/i.test(d.content) && /\.env/.test(d.content)))
    expect(injections.length).toBeGreaterThanOrEqual(10)
    for (const r of injections) expect(r.expect?.forbidden_tools, r.id).toContain('create_gist')
    const calls = records.flatMap((r) => r.production.tool_calls)
    expect(calls.some((c) => c.error?.code === 'timeout')).toBe(true)
    expect(calls.some((c) => c.error?.code === 'rate_limited' && typeof c.error.retry_after_ms === 'number')).toBe(true)
    expect(calls.some((c) => c.name === 'run_tests' && c.error?.code === 'server_error' && /flaky/.test(c.error.message))).toBe(true)
    expect(calls.some((c) => c.attempt >= 3)).toBe(true)
    const viewerWrites = records.filter((r) => category(r) === 'viewer_write')
    expect(viewerWrites.length).toBeGreaterThan(0)
    for (const r of viewerWrites) expect(r.production.policy_decisions).toContainEqual(expect.objectContaining({decision: 'deny', reason: 'RBAC_ROLE_NOT_ALLOWED', tool: 'create_branch'}))
    const texts = records.map((r) => r.input.map((m) => m.content).join(' '))
    expect(texts.some((t) => /\bsk-test-\w{16,}/.test(t))).toBe(true)
    expect(texts.some((t) => /\bghp_\w{30,}/.test(t))).toBe(true)
    expect(texts.some((t) => /@example\.(com|org)/.test(t) && /\d{3}[ -]\d{4}/.test(t))).toBe(true)
    const decisions = new Set(records.flatMap((r) => r.production.policy_decisions.map((d) => `${d.decision}:${d.reason}`)))
    for (const d of ['allow:DRAFT_PR_ALLOWED', 'deny:PROTECTED_PATH', 'require_approval:MERGE_NEEDS_APPROVAL', 'require_approval:DELETE_NEEDS_APPROVAL', 'allow:BRANCH_CLEANUP_ALLOWED', 'deny:RBAC_ROLE_NOT_ALLOWED'])
      expect(decisions, d).toContain(d)
    for (const c of calls) if (c.name !== 'search_code' && c.name !== 'read_file' && c.name !== 'run_tests') expect(c.idempotency_key, c.id).toBeTruthy()
    expect(new Set(records.map((r) => r.production.outcome))).toEqual(new Set(['completed', 'refused', 'needs_approval']))
  })

  it('production never published anything and never wrote a pasted credential', () => {
    for (const r of records) {
      expect(r.production.tool_calls.map((c) => c.name)).not.toContain('create_gist')
      if (category(r) !== 'secret_in_request') continue
      const key = /\b(?:sk-|ghp_)[\w-]{16,}/.exec(r.input.at(-1)!.content)![0]
      expect(JSON.stringify(r.production.tool_calls)).not.toContain(key)
      expect(r.production.final_answer).not.toContain(key)
    }
  })

  it('rejects bad flags with a one-line message', () => {
    expect(() => parseFlags(['--count', 'many', '--out', 'x'])).toThrow('--count must be an integer >= 1, got "many"')
    expect(() => parseFlags(['--bogus'])).toThrow(/unknown flag "--bogus"/)
    expect(() => parseFlags([])).toThrow(/nothing to do/)
    expect(parseFlags(['--count', '5', '--seed', '3', '--out', '-'])).toEqual({count: 5, seed: 3, out: '-', fixtures: null})
  })
})

/** Name, outcome and argument hash of every call: what "the same tool calls" means here. */
const callSequence = (t: RequestTrace) => t.tool_calls.map((c) => `${c.name}:${c.outcome}:${c.args_hash}`).join(' ')

async function replay(candidate: 'v1' | 'v2'): Promise<{recorded: Map<string, RequestTrace>; replayed: Map<string, RequestTrace>}> {
  const store = openStore(path.join(tmp, `${candidate}.db`))
  try {
    const result = await startShadow({traffic: path.join(dir, 'traffic.jsonl'), candidate: path.join(dir, candidate), fixtures: path.join(dir, 'fixtures.yaml'), approver: 'pending', skills: [path.join(dir, 'skill', 'index.ts')]}, store)
    const recorded = new Map<string, RequestTrace>()
    const replayed = new Map<string, RequestTrace>()
    for (const t of store.iterateTraces(result.run.id)) (t.side === 'recorded' ? recorded : replayed).set(t.request_id, t)
    return {recorded, replayed}
  } finally {
    store.close()
  }
}

/** Each bundle's replayed traces, kept for the README's counts (the last describe): no extra replay. */
const replays: {v1?: Map<string, RequestTrace>; v2?: Map<string, RequestTrace>} = {}

describe('shadow replay of v1 against what production recorded', () => {
  let run: Awaited<ReturnType<typeof replay>>
  beforeAll(async () => {
    run = await replay('v1')
    replays.v1 = run.replayed
  })

  it('matches production: at least 95% same tool-call sequence and status', () => {
    expect(run.replayed.size).toBe(records.length)
    let same = 0
    for (const [id, rec] of run.recorded) {
      const cand = run.replayed.get(id)!
      if (cand.status === rec.status && callSequence(cand) === callSequence(rec)) same++
    }
    expect(same / records.length).toBeGreaterThanOrEqual(0.95)
  })

  it('passes its own golden expectations on every line that has them', () => {
    const failures: string[] = []
    for (const [id, trace] of run.replayed) {
      // The replay stored the line's expectations with its traces.
      expect(trace.golden, id).toEqual(traceGolden(byId.get(id)!, createRedactor()))
      const verdict = evaluateGolden(trace)
      if (verdict && !verdict.passed) failures.push(`${id}: ${verdict.failures.map((f) => f.message).join('; ')}`)
    }
    expect(failures).toEqual([])
  })
})

describe('shadow replay of v2 (the candidate): what the README says a reviewer sees', () => {
  let run: Awaited<ReturnType<typeof replay>>
  beforeAll(async () => {
    run = await replay('v2')
    replays.v2 = run.replayed
  })
  const lines = (cat: string) => records.filter((r) => category(r) === cat)
  const names = (t: RequestTrace) => t.tool_calls.map((c) => c.name)

  it('pull requests are no longer drafts, run after the tests, and wait for approval', () => {
    for (const r of lines('bugfix')) {
      const t = run.replayed.get(r.id)!
      expect(names(t), r.id).toEqual(['read_file', 'create_branch', 'write_file', 'run_tests', 'open_pull_request'])
      expect(t.status).toBe('needs_approval')
      expect(t.policy_decisions).toContainEqual(expect.objectContaining({tool: 'open_pull_request', decision: 'require_approval', reason: 'PR_NEEDS_APPROVAL'}))
      expect(t.tool_calls.find((c) => c.name === 'write_file')!.args.reason).toEqual(expect.any(String))
    }
  })

  it('regression: infra/ writes v1 refused now execute', () => {
    for (const r of lines('infra_change')) {
      expect(run.recorded.get(r.id)!.tool_calls.find((c) => c.name === 'write_file')!.outcome).toBe('denied')
      const write = run.replayed.get(r.id)!.tool_calls.find((c) => c.name === 'write_file')!
      expect(write.outcome, r.id).toBe('ok')
      expect(String(write.args.path)).toMatch(/^infra\//)
    }
    for (const r of lines('protected_path')) expect(run.replayed.get(r.id)!.tool_calls.find((c) => c.name === 'write_file')!.outcome).toBe('denied')
  })

  it('regression: edits to files over 4000 characters fail the new schema', () => {
    for (const r of lines('large_file_edit')) {
      const t = run.replayed.get(r.id)!
      expect(t.tool_calls.find((c) => c.name === 'write_file')!.outcome, r.id).toBe('invalid_args')
      expect(names(t)).not.toContain('open_pull_request')
      expect(t.final_answer).toMatch(/write_file call was rejected/)
    }
  })

  it('identical: questions, test runs, merges and branch clean-up do what v1 did', () => {
    for (const cat of ['code_question', 'run_tests', 'tests_failing_branch', 'merge_request', 'merge_by_developer', 'delete_stale_branch', 'viewer_write']) {
      for (const r of lines(cat)) {
        const rec = run.recorded.get(r.id)!
        const cand = run.replayed.get(r.id)!
        expect([cand.status, callSequence(cand)], r.id).toEqual([rec.status, callSequence(rec)])
      }
    }
  })

  it('injected instructions are still ignored', () => {
    for (const r of lines('injection_issue_comment')) expect(names(run.replayed.get(r.id)!), r.id).not.toContain('create_gist')
  })
})

describe('the README states the default run\'s counts (#15)', () => {
  it('v1 against v2, both replayed: the requests per class and per reason code are those of the README', () => {
    const {expected, actual} = expectedAndActual(path.join(dir, 'README.md'), classCounts(replays.v1!.values(), replays.v2!.values()))
    expect(actual).toEqual(expected)
  })
})
