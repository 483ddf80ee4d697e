import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

/** The drill, budget, incident and rollout commands as a user runs them (dist/ is built first). */

let dir: string
const db = () => path.join(dir, 'u.db')
const json = async (args: string[]) => {
  const r = await runCli([...args, '--json'], {cwd: dir})
  return {...r, body: r.stdout.trim() ? JSON.parse(r.stdout) : null}
}
const scenario = (name: string) => path.join(repoRoot, 'scenarios', name)

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-drill-cli-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('understudy drill and the incident commands', () => {
  let drillDb = ''
  let runId = ''

  it('runs a drill, stores its report, and exits 1 on a wrong mitigation', async () => {
    const ok = await json(['drill', scenario('drill-refund-regression'), '--db', db(), '--work', path.join(dir, 'w1')])
    expect(ok.code).toBe(0)
    expect(ok.body).toMatchObject({scenario: 'drill-refund-regression', passed: true, id: 1})
    expect(ok.body.timings.time_to_detect_ms).toBeGreaterThanOrEqual(0)
    drillDb = path.join(dir, 'w1', 'drill.db')
    runId = ok.body.detection.run_id
    const text = await runCli(['drill', scenario('drill-refund-regression'), '--db', db(), '--work', path.join(dir, 'w2'), '--step', 'kill-switch:send_email'], {cwd: dir})
    expect(text.code).toBe(1)
    expect(text.stdout).toContain('FAILED')
    expect(text.stdout).toMatch(/harm remains/)
  }, 120_000)

  it('checks, simulates and audits the drill run, and plans its rollout', async () => {
    const check = await json(['budget', 'check', runId, '--db', drillDb])
    expect(check.code).toBe(0)
    expect(check.body.tenants.map((t: {tenant: string}) => t.tenant)).toEqual(['acme', 'globex', 'initech'])
    const sim = await json(['budget', 'simulate', runId, '--db', drillDb, '--max-tool-calls', '0'])
    expect(sim.body.lost_writes).toBeGreaterThan(0)
    const audit = await json(['incident', 'audit', runId, '--db', drillDb, '--from', '2025-07-01T00:00:00Z', '--to', '2025-07-03T00:00:00Z'])
    expect(audit.body.groups.some((g: {tool: string}) => g.tool === 'issue_refund')).toBe(true)
    const plan = await json(['rollout', 'plan', runId, '--db', drillDb])
    expect(plan.code).toBe(0)
    expect(plan.body.tenants).toHaveLength(3)
    const bad = await runCli(['incident', 'audit', runId, '--db', drillDb, '--from', 'yesterday'], {cwd: dir})
    expect(bad.code).not.toBe(0)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
  }, 120_000)

  it('kill-switches, degrades, promotes, marks bad and rolls back', async () => {
    const ks = await json(['incident', 'kill-switch', path.join(scenario('drill-injection-email'), 'bad'), 'send_email', '--out', path.join(dir, 'ks')])
    expect(ks.body).toMatchObject({disabled: ['send_email']})
    expect(ks.body.bundle).toMatch(/^support-refunds@1\.5\.0\+killswitch#/)
    const dg = await json(['incident', 'degrade', path.join(scenario('drill-injection-email'), 'bad'), '--mode', 'draft_only', '--out', path.join(dir, 'dg')])
    expect(dg.body.approval_required).toEqual(['issue_refund', 'send_email', 'escalate_ticket'])

    const h = path.join(dir, 'h.db')
    const a = await json(['rollout', 'promote', path.join(scenario('drill-refund-regression'), 'good'), '--stage', 'full', '--db', h])
    const b = await json(['rollout', 'promote', path.join(scenario('drill-refund-regression'), 'bad'), '--stage', 'canary-1', '--tenant', 'acme', '--db', h])
    expect((await json(['incident', 'mark-bad', b.body.bundle_ref, '--db', h])).body.stage).toBe('bad')
    const again = await runCli(['rollout', 'promote', path.join(scenario('drill-refund-regression'), 'bad'), '--stage', 'full', '--db', h], {cwd: dir})
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/marked bad/)
    const history = await json(['rollout', 'history', '--db', h])
    expect(history.body.last_known_good.bundle_ref).toBe(a.body.bundle_ref)
    const rb = await json(['incident', 'rollback', '--to', 'last-known-good', '--tenant', 'acme', '--out', path.join(dir, 'rb'), '--db', h])
    expect(rb.body.bundle).toBe(a.body.bundle_ref)
    const shown = await json(['budget', 'show', path.join(dir, 'rb')])
    expect(shown.body.request[0]).toEqual({name: 'max_steps', value: 8, source: 'budgets.max_steps'})
  }, 120_000)
})
