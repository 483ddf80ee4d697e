import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {sha256} from '../../src/util/canonical.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * `report --format json` of real shadow runs, byte for byte: the same bytes as the build that
 * recorded the hashes below (after the #14/#15/#22 merges: divergence and attack rules, latency
 * benign, skipped lines listed, redacted ids; the cheaper read path must not move them), once what
 * differs between two replays of the same traffic is set aside (the run id, its start and end
 * times, and the paths in its stored options, relative to where it was started). A change to what
 * the report says must update these on purpose; on a mismatch the normalised report is kept in
 * the temp folder (its path on stderr), to compare with one from the recording build.
 *
 * Two runs over the first 200 requests of support-refunds: v2 against what production recorded
 * (guardrail failures, injection, idempotency, policy deltas, regressions kept in full, golden
 * rates with known issues), and v2 against v1 with two repeats and seeded faults (the baseline
 * side, retries, noise between repeats).
 *
 * #16 moved the bundles' argument schemas to standard JSON Schema keys, which changes the bundle
 * hashes the report names and nothing else: with the old refs put back, both reports hash to the
 * values pinned before (0fcc0f2e…, 18019f70…), at the same byte counts.
 *
 * #15 judged requests by their expectations (a forbidden refund now executed is
 * `forbidden_tool_executed`, an expectation newly met an improvement) and added the escalation and
 * refusal rates to the scorecard: compared key by key with the report of the build before (124c8a8),
 * only those classifications, their counts and the two new metrics differ (recorded: 46 → 41
 * regressions, 0 → 5 improvements).
 *
 * #20 added the accepted differences (`summary.requests.accepted`, `summary.accepted`): with those two
 * keys taken out, both reports hash to the values pinned before (885c96fa…, c72c745d…), at the same
 * byte counts (+84 bytes each with them).
 *
 * #20 (the HTML decision page) added the per-tenant rows and the list of changed requests
 * (`summary.tenants`, `summary.changed`, at most 2,000 rows): with those and the accepted-differences
 * keys deleted, both reports are byte for byte the ones pinned before #20 (885c96fa…, 633,538 bytes;
 * c72c745d…, 788,960 bytes), so the multi-turn, bisect and prompt-section merges moved nothing.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const LINES = 200

const EXPECTED = {
  recorded: {bytes: 683_299, sha256: 'a7e07b8b89ef3a302c57dd57b9828db8bef73f0c877bb52f8e93b7faa86fd560'},
  baseline: {bytes: 837_681, sha256: '323e73389b8529f1f06a503fb5cedde5d3a167f0ca711f4d71dada40a9a682fb'},
}

let dir: string

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-report-bytes-'))
  const lines = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, LINES)
  writeFileSync(path.join(dir, 'traffic.jsonl'), lines.join('\n') + '\n')
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** The run's report as JSON text, the values that differ between two replays replaced by placeholders. */
function normalise(text: string): string {
  const doc = JSON.parse(text) as {summary: {run: Record<string, unknown>}; scorecard: {run_id: string}}
  const run = doc.summary.run
  expect(doc.scorecard.run_id).toBe(run.id)
  // The run config's paths (traffic file included) are absolute, so they name the temp folder.
  Object.assign(run, {id: 'RUN', started_at: 'START', finished_at: 'END', config: 'CONFIG', traffic_file: 'TRAFFIC'})
  doc.scorecard.run_id = 'RUN'
  // The report is JSON.stringify(…, null, 2): parsing and writing it again gives the same bytes.
  return JSON.stringify(doc, null, 2) + '\n'
}

async function reportOf(name: keyof typeof EXPECTED, shadowArgs: string[]): Promise<{bytes: number; sha256: string}> {
  const db = path.join(dir, `${name}.db`)
  const shadow = await runCli(['shadow', 'traffic.jsonl', '--scenario', scenario, ...shadowArgs, '--db', db, '--json'], {cwd: dir})
  expect(shadow.code, shadow.stderr).toBe(0)
  const runId = (JSON.parse(shadow.stdout) as {run: {id: string}}).run.id
  const report = await runCli(['report', runId, '--format', 'json', '--db', db], {cwd: dir})
  expect(report.code, report.stderr).toBe(0)
  const text = normalise(report.stdout)
  const got = {bytes: Buffer.byteLength(text), sha256: sha256(text)}
  if (got.sha256 !== EXPECTED[name].sha256) {
    const kept = path.join(tmpdir(), `understudy-report-bytes-${name}.json`)
    writeFileSync(kept, text)
    process.stderr.write(`report-json-bytes: ${name}: normalised report kept in ${kept}\n`)
  }
  return got
}

describe('report --format json, byte for byte', () => {
  it('v2 against what production recorded', async () => {
    expect(await reportOf('recorded', ['--baseline', 'recorded'])).toEqual(EXPECTED.recorded)
  }, 120_000)

  it('v2 against v1, two repeats, with faults', async () => {
    expect(await reportOf('baseline', ['--baseline', 'scenario', '--repeat', '2', '--faults', 'timeouts=0.05,rate_limit=0.03,partial_write=0.02', '--seed', '7'])).toEqual(EXPECTED.baseline)
  }, 120_000)
})
