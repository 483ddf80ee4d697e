import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'
import {invalidTrafficLine, invalidTrafficRecordInput, trafficLine} from '../factories/index.js'

// End to end through the built commands (dist/, built before the suite runs), in process via runCli;
// test/e2e/cli-smoke.test.ts checks that the binary prints the same.
let dir: string
let clean: string
let dirty: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-traffic-cli-'))
  clean = path.join(dir, 'clean.jsonl')
  writeFileSync(clean, [trafficLine({id: 'a'}), trafficLine({id: 'b', tenant: 'globex'})].join('\n') + '\n')
  dirty = path.join(dir, 'dirty.jsonl')
  writeFileSync(dirty, [trafficLine({id: 'a'}), '{"id": "b", oops}', invalidTrafficLine({id: 'c', role: ''}), trafficLine({id: 'a'})].join('\n') + '\n')
  const many = invalidTrafficRecordInput({id: 'm', tenant: '', user: '', production: {tool_calls: [{id: 'c1', name: 'lookup', args: 'x', latency_ms: 1}]}})
  writeFileSync(path.join(dir, 'multi.jsonl'), [trafficLine({id: 'a'}), JSON.stringify(many), invalidTrafficLine({id: 'b', role: ''})].join('\n') + '\n')
})
afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
})

describe('understudy traffic validate', () => {
  it('exits 0 with a summary for a clean file', async () => {
    const r = await runCli(['traffic', 'validate', 'clean.jsonl'], {cwd: dir})
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('clean.jsonl: 2 lines, 2 valid, 0 invalid\n')
  })

  it('prints each error to stderr and exits 1', async () => {
    const r = await runCli(['traffic', 'validate', 'dirty.jsonl'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('dirty.jsonl: 4 lines, 1 valid, 3 invalid, 3 problems\n')
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('dirty.jsonl:'))
    expect(errors).toEqual([
      "dirty.jsonl:2: json: invalid JSON at column 13: unexpected 'o' (expected a property name in double quotes)",
      'dirty.jsonl:3: role: Too small: expected string to have >=1 characters',
      'dirty.jsonl:4: id: duplicate request id "a" (first on line 1)',
    ])
  })

  it('prints every problem of a line, each on its own line', async () => {
    const r = await runCli(['traffic', 'validate', 'multi.jsonl'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('multi.jsonl: 3 lines, 1 valid, 2 invalid, 4 problems\n')
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('multi.jsonl:'))
    expect(errors).toEqual([
      'multi.jsonl:2: tenant: Too small: expected string to have >=1 characters',
      'multi.jsonl:2: user: Too small: expected string to have >=1 characters',
      expect.stringMatching(/^multi\.jsonl:2: production\.tool_calls\.0\.args: .*expected record/),
      'multi.jsonl:3: role: Too small: expected string to have >=1 characters',
    ])
    expect(r.stderr).not.toContain('more problem')
  })

  it('--max-errors limits the listed problems, not the count, and says so in the summary', async () => {
    const r = await runCli(['traffic', 'validate', 'multi.jsonl', '--max-errors', '2'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n').filter((l) => l.startsWith('multi.jsonl:'))).toEqual([
      'multi.jsonl:2: tenant: Too small: expected string to have >=1 characters',
      'multi.jsonl:2: user: Too small: expected string to have >=1 characters',
    ])
    expect(r.stdout).toBe('multi.jsonl: 3 lines, 1 valid, 2 invalid; showing first 2 of 4 problems (--max-errors 2)\n')

    const one = await runCli(['traffic', 'validate', 'dirty.jsonl', '--max-errors', '1'], {cwd: dir})
    expect(one.stderr.split('\n').filter((l) => l.startsWith('dirty.jsonl:'))).toHaveLength(1)
    expect(one.stdout).toBe('dirty.jsonl: 4 lines, 1 valid, 3 invalid; showing first 1 of 3 problems (--max-errors 1)\n')
  })

  it('--json gives every problem its own entry, and --max-errors counts the same problems', async () => {
    const all = await runCli(['traffic', 'validate', 'multi.jsonl', '--json'], {cwd: dir})
    expect(all.code).toBe(1)
    const full = JSON.parse(all.stdout)
    expect(full).toMatchObject({lines: 3, valid: 1, invalid: 2, problemCount: 4, errorsTruncated: false})
    expect(full.problems).toEqual([
      {line: 2, field: 'tenant', message: 'Too small: expected string to have >=1 characters'},
      {line: 2, field: 'user', message: 'Too small: expected string to have >=1 characters'},
      {line: 2, field: 'production.tool_calls.0.args', message: expect.stringMatching(/expected record/)},
      {line: 3, field: 'role', message: 'Too small: expected string to have >=1 characters'},
    ])
    const text = await runCli(['traffic', 'validate', 'multi.jsonl'], {cwd: dir})
    expect(full.errors).toEqual(text.stderr.split('\n').filter((l) => l.startsWith('multi.jsonl:')))

    const capped = JSON.parse((await runCli(['traffic', 'validate', 'multi.jsonl', '--json', '--max-errors', '3'], {cwd: dir})).stdout)
    expect(capped).toMatchObject({problemCount: 4, errorsTruncated: true})
    expect(capped.problems).toEqual(full.problems.slice(0, 3))
    expect(capped.errors).toEqual(full.errors.slice(0, 3))
  })

  it('--json returns the structured result and keeps the exit code', async () => {
    const r = await runCli(['traffic', 'validate', 'dirty.jsonl', '--json', '--max-errors', '2'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout)).toEqual({
      file: 'dirty.jsonl',
      lines: 4,
      valid: 1,
      invalid: 3,
      problemCount: 3,
      problems: [
        {line: 2, field: 'json', message: expect.stringMatching(/^invalid JSON at column 13: /)},
        {line: 3, field: 'role', message: expect.any(String)},
      ],
      errors: [expect.stringMatching(/^dirty\.jsonl:2: json: /), expect.stringMatching(/^dirty\.jsonl:3: role: /)],
      errorsTruncated: true,
      duplicateIds: 1,
    })
    const ok = await runCli(['traffic', 'validate', 'clean.jsonl', '--json'], {cwd: dir})
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({lines: 2, valid: 2, invalid: 0})
  })

  it('a missing file is a one-line error, exit 1', async () => {
    const r = await runCli(['traffic', 'validate', 'missing.jsonl'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('understudy: missing.jsonl: cannot read traffic file: no such file\n')
    expect(r.stderr).not.toMatch(/UnderstudyError|at .*traffic\/reader/)
  })
})

describe('understudy traffic stats', () => {
  const fixture = path.join(repoRoot, 'test/fixtures/traffic/small.jsonl')

  it('prints readable tables', async () => {
    const r = await runCli(['traffic', 'stats', fixture])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe(`${fixture}: 5 requests, 1 invalid line`)
    const tenant = lines.indexOf('TENANT   REQUESTS  SHARE')
    expect(lines.slice(tenant, tenant + 4)).toEqual([
      'TENANT   REQUESTS  SHARE',
      'acme            2  40.0%',
      'globex          2  40.0%',
      'initech         1  20.0%',
    ])
    expect(lines).toContain('require_approval  REFUND_OVER_LIMIT      1')
  })

  it('--json returns the stats object', async () => {
    const r = await runCli(['traffic', 'stats', fixture, '--json'])
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s).toMatchObject({requests: 5, invalidLines: 1, latencyMs: {p50: 500, p95: 3000, max: 3000}})
    expect(s.tools.send_email).toEqual({calls: 3, errors: 2, errorsByCode: {rate_limited: 2}, retries: 2})
  })

  it('a missing file is a one-line error, exit 1', async () => {
    const r = await runCli(['traffic', 'stats', 'missing.jsonl'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('understudy: missing.jsonl: cannot read traffic file: no such file\n')
  })
})
