import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * `diff --by cause` and `diff --cause <id>` (#19) on the banking scenario, a domain nothing in
 * src/ knows: v1 against itself has no cause at all; v2 (injection defences dropped) against v1
 * groups its regressions, and a group's id lists exactly that group's requests.
 */

const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')
const v1 = path.join(scenario, 'v1')
let dir: string
let db: string

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-causes-'))
  db = path.join(dir, 'u.db')
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

async function shadow(args: string[]): Promise<string> {
  const r = await runCli(['shadow', '--scenario', scenario, ...args, '--db', db, '--json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as {run: {id: string}}).run.id
}

type Group = {cause: string; class: string; signature: {class: string; facets: {code: string}[]}; requests: number; examples: string[]}

describe('diff --by cause', () => {
  it('no groups for v1 against itself; v2 against v1: regressions in groups, each listed by its id', async () => {
    const same = await shadow(['--candidate', v1, '--baseline', v1])
    const identity = await runCli(['diff', same, '--by', 'cause', '--json', '--db', db])
    expect(identity.code, identity.stderr).toBe(0)
    expect(JSON.parse(identity.stdout)).toMatchObject({by: 'cause', causes: [], counts: {same: 60}})

    const run = await shadow(['--baseline', 'scenario'])
    const r = await runCli(['diff', run, '--by', 'cause', '--only', 'regressions', '--json', '--db', db])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as {counts: {regression: number}; causes: Group[]}
    expect(out.counts.regression).toBeGreaterThan(1)
    expect(out.causes.length).toBeGreaterThan(0)
    expect(out.causes.length).toBeLessThan(out.counts.regression)
    expect(out.causes.reduce((n, g) => n + g.requests, 0)).toBe(out.counts.regression)
    for (const g of out.causes) {
      expect(g.cause).toMatch(/^[0-9a-f]{10}$/)
      expect(g.class).toBe('regression')
      expect(g.signature.facets.length).toBeGreaterThan(0)
    }
    // Largest first within a class.
    expect(out.causes.map((g) => g.requests)).toEqual([...out.causes.map((g) => g.requests)].sort((a, b) => b - a))

    const biggest = out.causes[0]!
    const one = await runCli(['diff', run, '--cause', biggest.cause.slice(0, 6), '--json', '--db', db])
    expect(one.code, one.stderr).toBe(0)
    const ids = (JSON.parse(one.stdout) as {requests: {request_id: string}[]}).requests.map((x) => x.request_id)
    expect(ids).toHaveLength(biggest.requests)
    expect(ids.slice(0, biggest.examples.length)).toEqual(biggest.examples)

    // An id that names no group is one line and exit 1, not an empty listing.
    const none = await runCli(['diff', run, '--cause', 'ffffffffff', '--db', db])
    expect(none.code).toBe(1)
    expect(none.stderr.trim().split('\n')).toHaveLength(1)
    expect(none.stderr).toContain('has no request of cause ffffffffff')
  }, 120_000)
})
