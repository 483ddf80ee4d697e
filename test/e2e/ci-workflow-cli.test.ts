import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {renderShadowSummary} from '../../src/shadow/summary.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * The CI workflow end to end on a scenario the code has never seen (banking-assistant, its
 * candidate against its baseline bundle, 30 requests): shadow ends with the verdict and --gate
 * exits 3 (a broken job exits 1); accepting every regression cause turns the gate green while the
 * report still shows them as accepted; JUnit and the PR summary come out of the same run.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-ci-cli-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const db = path.join(dir, 'runs.db')
const accepted = path.join(dir, 'accepted.yaml')
const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')
const cli = (...args: string[]) => runCli([...args, '--db', db], {cwd: dir})

describe('CI workflow on banking-assistant', () => {
  it('verdict, gate exit codes, accepted causes, junit and summary', async () => {
    const shadow = await cli('shadow', '--scenario', scenario, '--baseline', 'scenario', '--limit', '30', '--gate', '--json')
    const doc = JSON.parse(shadow.stdout)
    expect(doc.verdict.line).toMatch(/^verdict: RED \(.*red.*\) under the default thresholds$/)
    expect(shadow.code).toBe(3)
    expect(shadow.stderr).toMatch(/^gate failed: /m)
    // The text summary ends with the same line (the --json document is what it is rendered from).
    expect(renderShadowSummary(doc).trimEnd().split('\n').at(-1)).toBe(doc.verdict.line)
    const runId: string = doc.run.id
    expect((await cli('shadow', '--scenario', path.join(dir, 'no-such-scenario'), '--gate')).code).toBe(1)

    const causes = JSON.parse((await cli('diff', runId, '--by', 'cause', '--only', 'regressions', '--json')).stdout).causes as {cause: string; requests: number}[]
    expect(causes.length).toBeGreaterThan(0)
    for (const c of causes) expect((await cli('accept', runId, '--cause', c.cause, '--by', 'ci-reviewer', '--reason', 'intended', '--accepted', accepted)).code).toBe(0)
    const gate = await cli('scorecard', runId, '--gate', '--accepted', accepted)
    expect(gate.stdout).toMatch(new RegExp(`^accepted differences \\(${accepted}\\): ${causes.reduce((n, c) => n + c.requests, 0)} requests of ${causes.length} cause`, 'm'))
    expect(gate.stdout).toMatch(/^\s+accepted [0-9a-f]{10} regression \d+ requests?, accepted by ci-reviewer on /m)
    expect(gate.stderr).toBe('')
    expect(gate.code).toBe(0)
    const report = JSON.parse((await cli('report', runId, '--json', '--accepted', accepted)).stdout)
    expect(report.summary.classes.regression).toBe(0)
    expect(report.summary.accepted.groups.map((g: {cause: string}) => g.cause).sort()).toEqual(causes.map((c) => c.cause).sort())

    const junit = path.join(dir, 'junit.xml')
    expect((await cli('report', runId, '--out', junit, '--accepted', accepted, '--testcase', 'request')).code).toBe(0)
    const xml = readFileSync(junit, 'utf8')
    expect(xml.split('<testcase ').length - 1).toBe(4 + 30)
    expect(xml).toContain('<skipped message="cause ')
    const summary = (await cli('report', runId, '--format', 'summary', '--accepted', accepted)).stdout
    expect(summary).toMatch(/^## .* Understudy: /)
    expect(summary).toContain('### Accepted differences')
    expect(Buffer.byteLength(summary)).toBeLessThan(60_000)

    // Removing: refused without --yes where nothing can ask (exit 2, the run kept), done with it.
    const refused = await cli('runs', 'rm', runId)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('add --yes')
    const rm = JSON.parse((await cli('runs', 'rm', runId, '--yes', '--json')).stdout)
    expect(rm.removed).toEqual([runId])
    expect(rm.bytes_freed).toBeGreaterThan(0)
  })
})
