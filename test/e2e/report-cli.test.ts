import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'
import {baseTrace, trace, writeRun} from '../factories/index.js'
import {smallRun} from '../report/small-run.js'

/** End to end through the built CLI (`npm test` builds dist/ first) against a real SQLite store. */

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-cli-'))
const db = path.join(dir, 'runs.db')
const calmDb = path.join(dir, 'calm.db')
let runId = ''
let calmId = ''

beforeAll(() => {
  const {store, runId: memId} = smallRun()
  runId = writeRun(db, [...store.iterateTraces(memId)]).id
  const calm = Array.from({length: 20}, (_, i) => i + 1).flatMap((i) => [baseTrace({request_id: `q${i}`, line: i}), trace({request_id: `q${i}`, line: i})])
  calmId = writeRun(calmDb, calm).id
})

const cli = (...args: string[]) => runCli(args, {cwd: dir})

describe('understudy diff', () => {
  it('lists changed requests with class and reasons, plain when piped', async () => {
    const r = await cli('diff', runId.slice(0, 12), '--db', db)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^regression\s+r-deny \(line 3\) no longer completes: status completed → refused/m)
    expect(r.stdout).toMatch(/^improvement\s+r-inject-ok/m)
    expect(r.stdout).not.toMatch(/r-same/)
    expect(r.stdout).toContain('1 not compared')
    expect(r.stdout).not.toContain('\u001b[')
  })

  it('--only regressions and --only all', async () => {
    const regs = (await cli('diff', runId, '--db', db, '--only', 'regressions')).stdout
    expect(regs.split('\n').filter((l) => l.startsWith('regression'))).toHaveLength(4)
    expect(regs).not.toMatch(/^improvement/m)
    expect((await cli('diff', runId, '--db', db, '--only', 'all')).stdout).toMatch(/^same\s+r-same/m)
  })

  it('--json returns the list as data', async () => {
    const r = await cli('diff', runId, '--db', db, '--json', '--only', 'regressions')
    const doc = JSON.parse(r.stdout)
    expect(doc.requests.map((x: {request_id: string}) => x.request_id)).toEqual(['r-deny', 'r-inject-bad', 'r-steps', 'r-idem'])
    expect(doc.counts.regression).toBe(4)
  })

  it('--request shows one request side by side', async () => {
    const r = await cli('diff', runId, '--db', db, '--request', 'r-deny', '--width', '120')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('class: regression')
    expect(r.stdout).toMatch(/mid_run issue_refund: allow POLICY_DEFAULT\s+≠ mid_run issue_refund: deny REFUND_OVER_LIMIT/)
    const json = JSON.parse((await cli('diff', runId, '--db', db, '--request', 'r-deny', '--json')).stdout)
    expect(json.classification.class).toBe('regression')
  })

  it('one-line errors: unknown run, unknown request, request with one side only, missing store', async () => {
    const unknown = await cli('diff', 'zzz', '--db', db)
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr.trim()).toMatch(/^understudy: .*no run matches "zzz"/)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)
    expect((await cli('diff', runId, '--db', db, '--request', 'nope')).stderr).toMatch(/has no request "nope"/)
    expect((await cli('diff', runId, '--db', db, '--request', 'r-missing')).stderr).toMatch(/has no candidate trace/)
    const missing = await cli('diff', runId, '--db', path.join(dir, 'absent.db'))
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('understudy report', () => {
  it('writes a self-contained HTML file', async () => {
    const out = path.join(dir, 'out', 'report.html')
    const r = await cli('report', runId, '--db', db, '--format', 'html', '--out', out)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/wrote html report .* 4 regressions; scorecard red/)
    const html = readFileSync(out, 'utf8')
    expect(html).toContain('<table class="sbs">')
    expect(html).not.toMatch(/https?:\/\//i)
    // its one script is inline and loads nothing
    expect(html.match(/<script>/g)).toHaveLength(1)
    expect(html).not.toMatch(/<script[^>]*\ssrc/i)
    // each regression shows its calls in full, read back from the store; this run has no traffic file, and says so
    expect(html).toContain('<h4>Tool calls in full</h4>')
    expect(html).toContain('The traffic record was not available')
  })

  it('infers the format from --out and prints to stdout without it', async () => {
    const out = path.join(dir, 'r.json')
    expect((await cli('report', runId, '--db', db, '--out', out)).code).toBe(0)
    expect(JSON.parse(readFileSync(out, 'utf8')).summary.regressions.count).toBe(4)
    const md = await cli('report', runId, '--db', db, '--format', 'md')
    expect(md.stdout).toMatch(/^# Understudy shadow report/)
  })

  it('a failing report leaves the previous file as it was', async () => {
    const out = path.join(dir, 'keep.md')
    writeFileSync(out, 'previous report\n')
    const r = await cli('report', 'no-such-run', '--db', db, '--out', out)
    expect(r.code).not.toBe(0)
    expect(readFileSync(out, 'utf8')).toBe('previous report\n')
    const bad = await cli('report', runId, '--db', db, '--out', out, '--format', 'pdf')
    expect(bad.code).not.toBe(0)
    expect(readFileSync(out, 'utf8')).toBe('previous report\n')
  })
})

describe('understudy scorecard', () => {
  it('prints the four dimensions; --gate exits 3 (a failed gate, not 1: an error) on red and says which', async () => {
    const plain = await cli('scorecard', runId, '--db', db)
    expect(plain.code).toBe(0)
    expect(plain.stdout).toMatch(/^safety\s+RED/m)
    const gated = await cli('scorecard', runId, '--db', db, '--gate')
    expect(gated.code).toBe(3)
    expect(gated.stderr).toMatch(/^gate: Safety is red: .*injection requests where a disallowed call executed is 1/m)
    expect(gated.stderr).toMatch(/gate failed: safety, reliability/)
    // A broken job (no such run) is an error, 1: CI tells it from a bad candidate.
    const broken = await cli('scorecard', 'no-such-run', '--db', db, '--gate')
    expect(broken.code).toBe(1)
    expect(broken.stderr).toContain('understudy: ')
  })

  it('--gate exits 0 when nothing is red', async () => {
    const r = await cli('scorecard', calmId, '--db', calmDb, '--gate')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('gate passed')
  })

  it('--gate --json still prints the scorecard document and exits 3', async () => {
    const r = await cli('scorecard', runId, '--db', db, '--gate', '--json')
    expect(r.code).toBe(3)
    const doc = JSON.parse(r.stdout)
    expect(doc.gate).toEqual({enabled: true, passed: false})
    expect(doc.red).toContain('safety')
  })

  it('--thresholds overrides limits, and a bad file is a file:field error', async () => {
    const lenient = path.join(dir, 'lenient.yaml')
    writeFileSync(
      lenient,
      [
        'safety: {denial_rate_increase: {amber: 1, red: 1}, injection_disallowed_executed: {amber: 5, red: 5}}',
        'reliability: {tool_error_rate_increase: {amber: 1, red: 1}, max_steps_rate: {amber: 1, red: 1}, max_steps_rate_increase: {amber: 1, red: 1}, idempotency_violations: {amber: 5, red: 5}}',
        'cost: {tool_calls_per_request_increase: {amber: 5, red: 5}, p95_latency_increase: {amber: 5, red: 5}}',
        'quality: {status_match_rate: {amber: 0, red: 0}, completed_rate_drop: {amber: 1, red: 1}, escalation_rate_increase: {amber: 1, red: 1}, refusal_rate_increase: {amber: 1, red: 1}}',
      ].join('\n'),
    )
    const ok = await cli('scorecard', runId, '--db', db, '--gate', '--thresholds', lenient)
    expect(ok.code).toBe(0)
    const bad = path.join(dir, 'bad.yaml')
    writeFileSync(bad, 'cost:\n  p95_latency_increase: {amber: high}\n')
    const r = await cli('scorecard', runId, '--db', db, '--thresholds', bad)
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:\\d+:\\d+: cost\\.p95_latency_increase\\.amber: `))
    expect(existsSync(bad)).toBe(true)
  })
})
