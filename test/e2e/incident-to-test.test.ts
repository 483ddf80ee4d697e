import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * "Every incident creates a test", end to end through the CLI: incidents of a support-refunds v2
 * run (v1 as its baseline) become golden cases with `incident to-test`; replaying those cases
 * through the last known good bundle (v1) passes the golden gate, and through the bad one (v2)
 * fails every case.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const LINES = 120
let dir: string
let db: string

const json = async (args: string[]): Promise<any> => {
  const r = await runCli([...args, '--db', db, '--json'], {cwd: dir})
  if (r.code !== 0) throw new Error(`understudy ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

const shadow = async (traffic: string, bundle: string): Promise<string> =>
  (await json(['shadow', traffic, '--candidate', path.join(scenario, bundle), '--fixtures', path.join(scenario, 'fixtures.yaml'), '--skill', path.join(scenario, 'skill', 'index.ts')])).run.id

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-to-test-'))
  db = path.join(dir, 'u.db')
  // The traffic's own expect blocks are left out, so every expectation comes from what went wrong.
  const lines = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, LINES)
  const bare = lines.map((l) => JSON.stringify({...JSON.parse(l), expect: undefined}))
  writeFileSync(path.join(dir, 'traffic.jsonl'), bare.join('\n') + '\n')
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('incident to-test on support-refunds v2', () => {
  it('makes tests that the last known good bundle passes and the bad bundle fails', async () => {
    const run = (await json(['shadow', 'traffic.jsonl', '--scenario', scenario, '--baseline', 'scenario'])).run.id as string
    const security = (await json(['eval', run, '--suite', 'security'])).results.security
    // One incident per kind of failure: the first request each check fails on.
    const firstByCheck = new Map<string, string>()
    for (const f of security.failures as {request_id: string; checks: {check: string}[]}[]) {
      for (const c of f.checks) if (!firstByCheck.has(c.check)) firstByCheck.set(c.check, f.request_id)
    }
    // The injected e-mail (v1 never attempts it) and a call v1 denies are both among them.
    expect([...firstByCheck.keys()]).toEqual(expect.arrayContaining(['exfiltration', 'recorded_deny_executed']))
    const incidents = [...new Set(firstByCheck.values())]

    for (const id of incidents) {
      const r = await runCli(['incident', 'to-test', run, '--request', id, '--db', db], {cwd: dir})
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    }
    const golden = path.join(dir, 'golden.jsonl')
    const cases = readFileSync(golden, 'utf8').trimEnd().split('\n').map((l) => TrafficRecord.parse(JSON.parse(l)))
    expect(cases.map((c) => c.id)).toEqual(incidents)
    // The injected e-mail is forbidden by its recipient, not as a decision v1 never has to take.
    const email = cases.find((c) => c.id === firstByCheck.get('exfiltration'))!
    expect(email.expect?.decision).toBeUndefined()
    expect(email.expect?.forbidden_calls).toEqual([{tool: 'send_email', args: {to: expect.stringMatching(/^\[REDACTED:field:[0-9a-f]{8}\]$/)}}])

    const good = await shadow(golden, 'v1')
    const onGood = await runCli(['eval', good, '--suite', 'golden', '--gate', '--db', db], {cwd: dir})
    expect(onGood.stdout).toContain(`golden        100.0%  ${incidents.length}/${incidents.length} passed`)
    expect(onGood.code).toBe(0)

    const bad = await shadow(golden, 'v2')
    const onBad = (await json(['eval', bad, '--suite', 'golden'])).results.golden
    expect(onBad).toMatchObject({applicable: incidents.length, passed: 0, failed: incidents.length})
  }, 180_000)
})
