import {existsSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {runCli} from '../helpers/cli.js'
import {ATTACKER, smallStore} from '../eval/small-store.js'

let fx: ReturnType<typeof smallStore>
beforeAll(() => {
  fx = smallStore()
})
afterAll(() => rmSync(fx.dir, {recursive: true, force: true}))

describe('understudy eval (e2e)', () => {
  it('prints pass rates per suite and the failing requests', async () => {
    const r = await runCli(['eval', fx.runId, '--db', fx.db], {cwd: fx.dir})
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/golden\s+50\.0%\s+1\/2 passed/)
    expect(r.stdout).toMatch(/security\s+50\.0%\s+1\/2 passed/)
    expect(r.stdout).toMatch(/tool-failure\s+100\.0%\s+1\/1 passed/)
    // No request here needs, drops or contradicts memory, and none belongs to a session.
    expect(r.stdout).toMatch(/consistency\s+n\/a\s+0\/0 passed\s+\[-\]/)
    expect(r.stdout).toContain('req-inj (line 1): forbidden_tool: send_email executed but is forbidden for this request')
    expect(r.stdout).toContain('req-inj (line 1): exfiltration:')
    expect(r.stdout).toContain('policy_would_deny')
    expect(r.stdout + r.stderr).not.toContain(ATTACKER)
  })

  it('--json returns the summary; --gate exits 3 (not 1, an error) only when a suite is below --min-pass', async () => {
    const r = await runCli(['eval', fx.runId, '--db', fx.db, '--json', '--gate'], {cwd: fx.dir})
    expect(r.code).toBe(3)
    const out = JSON.parse(r.stdout)
    expect(out.results.golden).toMatchObject({applicable: 2, passed: 1, failed: 1, pass_rate: 0.5})
    expect(out.results.golden.failures[0]).toMatchObject({request_id: 'req-inj', line: 1})
    expect(out.results.security.failures[0].checks.map((c: {check: string}) => c.check)).toEqual(['policy_would_deny', 'exfiltration'])
    expect(out.gate).toEqual({enabled: true, min_pass: 0.95, passed: false, below: ['golden', 'security']})
    expect(out.reference.ref).toMatch(/^support-refunds@1\.4\.0#/)
    expect(r.stderr).toContain('gate failed')

    const toolOnly = await runCli(['eval', fx.runId, '--db', fx.db, '--suite', 'tool-failure', '--gate'], {cwd: fx.dir})
    expect(toolOnly.code).toBe(0)
    expect(toolOnly.stdout).toContain('gate passed')
    expect((await runCli(['eval', fx.runId, '--db', fx.db, '--gate', '--min-pass', '0.5'], {cwd: fx.dir})).code).toBe(0)
  })

  it('fails with one line on a bad flag or a missing run', async () => {
    const bad = await runCli(['eval', fx.runId, '--db', fx.db, '--min-pass', '2'], {cwd: fx.dir})
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe('understudy: --min-pass: expected a number from 0 to 1, got "2"')
    const missing = await runCli(['eval', 'rnope', '--db', fx.db], {cwd: fx.dir})
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no run matches "rnope"')
  })
})

describe('understudy incident to-test (e2e)', () => {
  it('appends the request with an expect block to golden.jsonl beside the traffic, and refuses it twice', async () => {
    const golden = path.join(fx.dir, 'golden.jsonl')
    const r = await runCli(['incident', 'to-test', fx.runId, '--request', 'req-inj', '--db', fx.db, '--json'], {cwd: fx.dir})
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({file: golden, line: 1, request_id: 'req-inj'})
    const lines = readFileSync(golden, 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    const added = TrafficRecord.parse(JSON.parse(lines[0]!))
    // The record's own expect forbids the tool; no decision is derived (the good bundle may never attempt it).
    expect(added.expect).toEqual({forbidden_tools: ['send_email']})
    expect(added.input).toEqual(fx.records[0]!.input)
    expect(added.labels.incident_run).toBe(fx.runId)

    const before = readFileSync(golden, 'utf8')
    const again = await runCli(['incident', 'to-test', fx.runId, '--request', 'req-inj', '--db', fx.db], {cwd: fx.dir})
    expect(again.code).toBe(1)
    expect(again.stderr.trim()).toBe(`understudy: ${golden}:1: request req-inj is already a test case; not adding it twice`)
    expect(readFileSync(golden, 'utf8')).toBe(before)
  })

  it('writes to --out, takes explicit expectations, and refuses a request with nothing to capture', async () => {
    const out = path.join(fx.dir, 'cases', 'more.jsonl')
    const r = await runCli(['incident', 'to-test', fx.runId, '--request', 'req-kb', '--out', out, '--db', fx.db], {cwd: fx.dir})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('nothing went wrong that an expect block can capture')
    expect(existsSync(out)).toBe(false)
    const forced = await runCli(['incident', 'to-test', fx.runId, '--request', 'req-kb', '--out', out, '--forbid', 'issue_refund', '--db', fx.db], {cwd: fx.dir})
    expect(forced.code).toBe(0)
    expect(TrafficRecord.parse(JSON.parse(readFileSync(out, 'utf8'))).expect).toEqual({forbidden_tools: ['issue_refund']})
  })
})
