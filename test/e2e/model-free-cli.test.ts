import {appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

// The banking scenario is a domain no skill of the scripted model knows.
const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')
const traffic = path.join(scenario, 'traffic.jsonl')
const v1 = path.join(scenario, 'v1')
let dir: string
let db: string

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-model-free-'))
  db = path.join(dir, 'u.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('shadow on a domain the scripted model has no skill for', () => {
  it('refuses to start the scripted model, in one line naming the tools and the ways out', async () => {
    const r = await runCli(['shadow', traffic, '--candidate', v1, '--model', 'scripted', '--limit', '3', '--db', db])
    expect(r.code).not.toBe(0)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/the scripted model has no skill for this bundle's tools \(get_balance, get_iban, .* and \d+ more\): no skill module was named/)
    expect(lines[0]).toContain('--model recorded')
    expect(lines[0]).toContain('--model ollama:<name>')
    expect(r.stdout).toBe('')
  })

  it('runs the domain-free behaviour when asked for by name', async () => {
    const r = await runCli(['shadow', traffic, '--candidate', v1, '--model', 'scripted', '--skill', 'generic', '--limit', '3', '--db', db, '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).requests).toBe(3)
  })

  it('replays with --model recorded, and says up front which bundle changes it cannot measure', async () => {
    const reworded = path.join(dir, 'v1-reworded')
    cpSync(v1, reworded, {recursive: true})
    appendFileSync(path.join(reworded, 'prompts', 'system.md'), '\nAlways be brief.\n')
    const r = await runCli(['shadow', traffic, '--candidate', reworded, '--baseline', v1, '--model', 'recorded', '--limit', '5', '--db', db])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/^note: --model recorded does not measure 1 change only a model can show: prompt system \(\+\d+ −\d+ lines\); run with --model ollama:<name> to see their effect$/m)
    const json = await runCli(['shadow', traffic, '--candidate', reworded, '--baseline', v1, '--model', 'recorded', '--limit', '5', '--db', db, '--json'])
    const summary = JSON.parse(json.stdout)
    expect(summary.notices).toEqual([expect.stringContaining('prompt system')])
    // Only the prompt differs, and the replay does not see prompts: nothing changes.
    expect(summary.classes.regression + summary.classes.behaviour_change).toBe(0)

    const same = await runCli(['shadow', traffic, '--candidate', v1, '--baseline', v1, '--model', 'recorded', '--limit', '5', '--db', db, '--json'])
    expect(JSON.parse(same.stdout).notices).toEqual([])
  })

  it('--model compromised: an attack goal no bundle of the run offers stops the run, naming file, line and field', async () => {
    const lines = readFileSync(traffic, 'utf8').trim().split('\n')
    const at = lines.findIndex((l) => (JSON.parse(l) as {attacks?: unknown[]}).attacks?.length)
    const rec = JSON.parse(lines[at]!) as {attacks: {goal: {name: string}[]}[]}
    rec.attacks[0]!.goal[0]!.name = 'wire_to_offshore'
    lines[at] = JSON.stringify(rec)
    const file = path.join(dir, 'traffic.jsonl')
    writeFileSync(file, lines.join('\n') + '\n')
    const r = await runCli(['shadow', file, '--candidate', v1, '--model', 'compromised', '--db', db])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`${file}:${at + 1}: attacks.0.goal.0.name: "wire_to_offshore" is not a tool of any bundle in this run (get_balance, `)
  })
})
