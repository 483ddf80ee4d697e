import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runSummary} from '../../src/runs/run-summary.js'
import {scorecard} from '../../src/scorecard/scorecard.js'
import {openStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * Malformed traffic lines in a shadow run: one bad line must not turn the scorecard red or fail
 * --gate. Every skipped line is told (stderr as `traffic validate` prints it, the report, --json)
 * and kept out of every figure: the run with the bad lines scores exactly as the run without them.
 * --strict stops at the first one instead.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const v1 = path.join(scenario, 'v1')
const shipped = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, 30)

let dir: string
let db: string
const cli = (...args: string[]) => runCli([...args, '--db', db], {cwd: dir})
const shadow = (traffic: string, ...more: string[]) =>
  cli('shadow', traffic, '--candidate', v1, '--fixtures', path.join(scenario, 'fixtures.yaml'), '--skill', path.join(scenario, 'skill', 'index.ts'), ...more)

/** Line 5's tenant is a number (as in the issue); line 12 repeats line 1's id. */
function withBadLines(): string[] {
  const lines = [...shipped]
  const bad = JSON.parse(lines[4]!) as Record<string, unknown>
  bad.tenant = 5
  lines[4] = JSON.stringify(bad)
  lines.splice(11, 0, JSON.stringify({...(JSON.parse(lines[0]!) as object)}))
  return lines
}

let cleanRun = ''
let dirtyRun = ''
let dirty: Awaited<ReturnType<typeof shadow>>

beforeAll(async () => {
  dir = tempDir('understudy-skipped-')
  db = path.join(dir, 'u.db')
  writeFileSync(path.join(dir, 'clean.jsonl'), shipped.filter((_, i) => i !== 4).join('\n') + '\n')
  writeFileSync(path.join(dir, 'dirty.jsonl'), withBadLines().join('\n') + '\n')
  const clean = await shadow('clean.jsonl', '--json')
  expect(clean.code).toBe(0)
  cleanRun = JSON.parse(clean.stdout).run.id
  dirty = await shadow('dirty.jsonl')
  expect(dirty.code).toBe(0)
  dirtyRun = /^run (\S+) completed/m.exec(dirty.stdout)![1]!
})
afterAll(() => removeTempDirs())

describe('shadow with malformed traffic lines', () => {
  it('prints every problem of every skipped line on stderr, as traffic validate does', async () => {
    const file = path.join(dir, 'dirty.jsonl')
    const problems = dirty.stderr.split('\n').filter((l) => l.startsWith(file))
    expect(problems).toEqual([`${file}:5: tenant: Invalid input: expected string, received number`, `${file}:12: id: duplicate request id "req-000001" (first on line 1)`])
    expect(dirty.stdout).toMatch(/skipped lines 2 \(not replayed, so in no comparison or figure; each is on stderr\)/)
    const validate = await runCli(['traffic', 'validate', file], {cwd: dir})
    expect(validate.stderr.trim().split('\n')).toEqual(problems)
  })

  it('lists them in --json with every problem', async () => {
    const r = await shadow('dirty.jsonl', '--json')
    const doc = JSON.parse(r.stdout)
    expect(doc.skipped).toBe(2)
    expect(doc.skipped_lines).toEqual([
      {file: path.join(dir, 'dirty.jsonl'), line: 5, request_id: 'req-000005', problems: [{field: 'tenant', message: 'Invalid input: expected string, received number'}]},
      {file: path.join(dir, 'dirty.jsonl'), line: 12, request_id: 'req-000001#line12', problems: [{field: 'id', message: 'duplicate request id "req-000001" (first on line 1)'}]},
    ])
  })

  it('keeps them out of every figure: the summary and scorecard are those of the run without them', async () => {
    const store = openStore(db)
    try {
      const figures = async (id: string) => {
        const run = store.getRun(id)!
        const {summary, golden} = await runSummary(store, run)
        const card = scorecard(summary, undefined, golden)
        const {run: _run, requests, skipped_lines, regressions, improvements, changed, ...rest} = summary
        const ids = (xs: {ids: string[]; count: number}) => ({count: xs.count, ids: xs.ids})
        // the changed requests' lines move with the skipped lines before them; the rest of each is the same
        const listed = changed.listed.map(({line: _line, ...r}) => r)
        return {rest, requests, skipped_lines, regressions: ids(regressions), improvements: ids(improvements), changed: {listed, omitted: changed.omitted}, card: card.dimensions.map((d) => [d.name, d.colour, d.metrics.map((m) => m.value)])}
      }
      const clean = await figures(cleanRun)
      const bad = await figures(dirtyRun)
      expect(bad.rest).toEqual(clean.rest)
      expect(bad.card).toEqual(clean.card)
      expect(bad.regressions).toEqual(clean.regressions)
      expect(bad.improvements).toEqual(clean.improvements)
      expect(bad.changed).toEqual(clean.changed)
      expect(bad.requests).toEqual({...clean.requests, total: clean.requests.total + 2, skipped: 2})
      expect(bad.skipped_lines.map((l) => [l.line, l.request_id])).toEqual([
        [5, 'req-000005'],
        [12, 'req-000001#line12'],
      ])
      expect(bad.skipped_lines[0]!.reason).toMatch(/dirty\.jsonl:5: tenant: Invalid input: expected string, received number$/)
    } finally {
      store.close()
    }
    const gates = await Promise.all([cli('scorecard', cleanRun, '--gate'), cli('scorecard', dirtyRun, '--gate')])
    expect(gates[1].code).toBe(gates[0].code)
    expect(gates[1].stdout.replace(dirtyRun, 'RUN')).toBe(gates[0].stdout.replace(cleanRun, 'RUN'))
  })

  it('shows them, with their reasons, in the report and the diff, never as a missing side', async () => {
    const md = (await cli('report', dirtyRun, '--format', 'md')).stdout
    expect(md).toContain('## Skipped traffic lines (2)')
    expect(md).toMatch(/\| 5 \| req-000005 \| .*dirty\.jsonl:5: tenant: Invalid input: expected string, received number \|/)
    expect(md).not.toMatch(/lack a base trace/)
    const html = (await cli('report', dirtyRun, '--format', 'html')).stdout
    expect(html).toContain('<h2>Skipped traffic lines (2)</h2>')
    const diff = await cli('diff', dirtyRun)
    expect(diff.stdout).toMatch(/; 2 skipped traffic lines \(malformed or a repeated id; `understudy report` lists why\)\n$/)
    expect(diff.stdout).not.toMatch(/not compared/)
    expect(JSON.parse((await cli('diff', dirtyRun, '--json')).stdout)).toMatchObject({incomplete: 0, skipped: 2})
  })

  it('--strict stops at the first one: exit 1 naming file:line: field, the run failed, the requests before it stored', async () => {
    const r = await shadow('dirty.jsonl', '--strict')
    expect(r.code).toBe(1)
    const file = path.join(dir, 'dirty.jsonl')
    const runs = JSON.parse((await cli('runs', 'list', '--json')).stdout)
    const run = (runs.runs ?? runs).find((x: {id: string; status: string}) => ![cleanRun, dirtyRun].includes(x.id) && x.status !== 'completed')
    expect(run.status).toBe('failed')
    expect(r.stderr.split('\n').filter((l) => l.startsWith('understudy:'))).toEqual([
      `understudy: ${file}:5: tenant: Invalid input: expected string, received number; run ${run.id} failed: --strict stops at the first traffic line it would skip (the requests before it are stored)`,
    ])
    const store = openStore(db)
    try {
      const lines = [...store.iterateTraces(run.id, {side: 'candidate'})].map((t) => t.line)
      expect(lines).toEqual([1, 2, 3, 4])
      expect(store.countTraces(run.id, {side: 'recorded'})).toBe(4)
    } finally {
      store.close()
    }
  })
})
