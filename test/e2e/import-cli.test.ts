import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {runCli} from '../helpers/cli.js'

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'import')

describe('understudy traffic import --from openai (e2e)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'us-import-cli-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('maps the tenant flag, reports skipped lines with their location (exit 1), writes traffic that validates', async () => {
    const out = path.join(dir, 'traffic.jsonl')
    const r = await runCli(['traffic', 'import', '--from', 'openai', path.join(FIXTURES, 'openai.jsonl'), '--out', out, '--tenant-attr', 'org_id'])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`imported 2 request(s), skipped 2, from 6 line(s) to ${out}; 3 tool definition(s) seen`)
    expect(r.stderr).toContain('openai.jsonl:5: request: missing')
    expect(readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => TrafficRecord.parse(JSON.parse(l)).tenant)).toEqual(['skyways', 'skyways'])
    // --json keeps the whole result, tool definitions included, and still exits 1.
    const j = await runCli(['traffic', 'import', '--from', 'openai', path.join(FIXTURES, 'openai.jsonl'), '--out', out, '--tenant-attr', 'org_id', '--json'])
    expect(j.code).toBe(1)
    const res = JSON.parse(j.stdout)
    expect([res.written, res.skipped, res.tools.map((t: {name: string}) => t.name)]).toEqual([2, 2, ['search_flights', 'hold_seat', 'get_fare_rules']])
    const v = await runCli(['traffic', 'validate', out])
    expect(v.code).toBe(0)
    expect(v.stdout).toContain('2 lines, 2 valid, 0 invalid')
  })
})
