import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * The new-team path of issue #17, by the CLI and without editing a file: `init` from a sample OpenAI
 * log (the travel-booking fixture: one agent loop of three lines, one Responses API pair, two lines
 * that cannot be read), `shadow --scenario` (model: recorded, from scenario.yaml), `report --format
 * json`, which shows the recorded tool calls judged by the drafted bundle.
 */
const LOG = path.join(repoRoot, 'test', 'fixtures', 'import', 'openai.jsonl')
const dir = mkdtempSync(path.join(tmpdir(), 'understudy-init-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('init → shadow → report', () => {
  it('replays an imported OpenAI log through the drafted bundle with no edit', async () => {
    const init = await runCli(['init', 'skydesk', '--from', 'openai', LOG, '--tenant-attr', 'org_id'], {cwd: dir})
    expect(init.code, init.stderr).toBe(0)
    expect(init.stderr).toContain('openai.jsonl:5: request: missing')
    expect(init.stdout).toContain('2 request(s) in traffic.jsonl (2 skipped')
    expect(init.stdout).toMatch(/hold_seat: risk write_low \(guessed\), 1 recorded call/)
    expect(init.stdout.trimEnd().split('\n').slice(-2)).toEqual(['  understudy shadow --scenario skydesk', '  understudy report <run-id>'])
    expect(readFileSync(path.join(dir, 'skydesk', 'v1', 'prompts', 'system.md'), 'utf8')).toBe('You are SkyDesk, a travel booking assistant.\n')

    const validate = await runCli(['bundle', 'validate', 'skydesk/v1'], {cwd: dir})
    expect(validate.code, validate.stdout + validate.stderr).toBe(0)

    const shadow = await runCli(['shadow', '--scenario', 'skydesk', '--db', 'u.db', '--json'], {cwd: dir})
    expect(shadow.code, shadow.stderr).toBe(0)
    const runId = JSON.parse(shadow.stdout).run.id as string

    const report = await runCli(['report', runId, '--format', 'json', '--db', 'u.db'], {cwd: dir})
    expect(report.code, report.stderr).toBe(0)
    const {summary} = JSON.parse(report.stdout)
    expect(summary.run.model).toBe('recorded')
    expect(summary.run.candidate_ref).toMatch(/^skydesk@1\.0\.0#/)
    // Every recorded call reached its tool through the drafted contracts and default-deny policy: none denied, none failed.
    expect(summary.tool_errors).toEqual([
      {tool: 'get_fare_rules', base: {calls: 1, errors: 0}, cand: {calls: 1, errors: 0}},
      {tool: 'hold_seat', base: {calls: 1, errors: 0}, cand: {calls: 1, errors: 0}},
      {tool: 'search_flights', base: {calls: 1, errors: 0}, cand: {calls: 1, errors: 0}},
    ])
    expect(summary.sides.cand).toMatchObject({requests: 2, tool_calls: 3, denial_requests: 0, budget_hits: {}, idempotency_violations: 0})
    expect(summary.policy_deltas).toEqual([])

    // A second init into the now non-empty folder is one clear error, and nothing there changes.
    const bundleBefore = readFileSync(path.join(dir, 'skydesk', 'v1', 'bundle.yaml'), 'utf8')
    const again = await runCli(['init', 'skydesk', '--from', 'openai', LOG, '--tenant-attr', 'org_id'], {cwd: dir})
    expect(again.code).toBe(1)
    expect(again.stderr.trim()).toBe('understudy: skydesk: not empty; init writes only into a new or empty directory (nothing was written)')
    expect(readFileSync(path.join(dir, 'skydesk', 'v1', 'bundle.yaml'), 'utf8')).toBe(bundleBefore)
  }, 120_000)
})
