import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'
import {validLine} from '../fixtures/traffic/records.js'

// End to end through the built commands (dist/, built before the suite runs), in process via runCli;
// test/cli/smoke.test.ts checks that the binary prints the same.
let dir: string
let clean: string
let dirty: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-traffic-cli-'))
  clean = path.join(dir, 'clean.jsonl')
  writeFileSync(clean, [validLine('a'), validLine('b', {tenant: 'globex'})].join('\n') + '\n')
  dirty = path.join(dir, 'dirty.jsonl')
  writeFileSync(dirty, [validLine('a'), '{"id": "b", oops}', validLine('c', {role: ''}), validLine('a')].join('\n') + '\n')
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
    expect(r.stdout).toBe('dirty.jsonl: 4 lines, 1 valid, 3 invalid\n')
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('dirty.jsonl:'))
    expect(errors).toEqual([
      "dirty.jsonl:2: json: invalid JSON at column 13: unexpected 'o' (expected a property name in double quotes)",
      'dirty.jsonl:3: role: Too small: expected string to have >=1 characters',
      'dirty.jsonl:4: id: duplicate request id "a" (first on line 1)',
    ])
  })

  it('--max-errors limits the list, not the count', async () => {
    const r = await runCli(['traffic', 'validate', 'dirty.jsonl', '--max-errors', '1'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n').filter((l) => l.startsWith('dirty.jsonl:'))).toHaveLength(1)
    expect(r.stderr).toContain('... and 2 more errors not listed (--max-errors 1)')
    expect(r.stdout).toBe('dirty.jsonl: 4 lines, 1 valid, 3 invalid\n')
  })

  it('--json returns the structured result and keeps the exit code', async () => {
    const r = await runCli(['traffic', 'validate', 'dirty.jsonl', '--json', '--max-errors', '2'], {cwd: dir})
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout)).toEqual({
      file: 'dirty.jsonl',
      lines: 4,
      valid: 1,
      invalid: 3,
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
