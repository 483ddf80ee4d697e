import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {UnderstudyError, ValidationError} from '../../src/errors.js'
import {loadScenario} from '../../src/scenario/load.js'

function scenarioDir(yaml: string, files: string[] = ['traffic.jsonl', 'fixtures.yaml'], dirs: string[] = ['v1', 'v2']): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-scenario-'))
  for (const f of files) writeFileSync(path.join(dir, f), '')
  for (const d of dirs) mkdirSync(path.join(dir, d))
  writeFileSync(path.join(dir, 'scenario.yaml'), yaml)
  return dir
}

const good = 'name: refunds\ndescription: d\ntraffic: traffic.jsonl\nbaseline: v1\ncandidate: v2\nfixtures: fixtures.yaml\napprover: deny\n'

describe('loadScenario', () => {
  it('loads a scenario directory and resolves its paths', () => {
    const dir = scenarioDir(good)
    const s = loadScenario(dir)
    expect(s).toEqual({
      name: 'refunds',
      description: 'd',
      dir,
      file: path.join(dir, 'scenario.yaml'),
      traffic: path.join(dir, 'traffic.jsonl'),
      baseline: path.join(dir, 'v1'),
      candidate: path.join(dir, 'v2'),
      fixtures: path.join(dir, 'fixtures.yaml'),
      approver: 'deny',
      skill: null,
      model: null,
    })
    expect(loadScenario(path.join(dir, 'scenario.yaml'))).toEqual(s)
  })

  it('carries the model a scenario asks for, as --model takes it', () => {
    expect(loadScenario(scenarioDir(`${good}model: recorded\n`)).model).toBe('recorded')
  })

  it('resolves the skill module next to the scenario and names it when it is missing', () => {
    const dir = scenarioDir(`${good}skill: skill/index.ts\n`, ['traffic.jsonl', 'fixtures.yaml'], ['v1', 'v2', 'skill'])
    writeFileSync(path.join(dir, 'skill', 'index.ts'), '')
    expect(loadScenario(dir).skill).toBe(path.join(dir, 'skill', 'index.ts'))
    const missing = scenarioDir(`${good}skill: skill.js\n`)
    expect(() => loadScenario(missing)).toThrow(`${path.join(missing, 'scenario.yaml')}:skill: skill.js does not exist`)
  })

  it('defaults the approver to pending and fixtures to none', () => {
    const s = loadScenario(scenarioDir('name: x\ntraffic: traffic.jsonl\nbaseline: v1\ncandidate: v2\n'))
    expect(s.approver).toBe('pending')
    expect(s.fixtures).toBeNull()
  })

  it('names the field of every missing path', () => {
    const dir = scenarioDir('name: x\ntraffic: nope.jsonl\nbaseline: v1\ncandidate: v3\n')
    let problems: string[] = []
    try {
      loadScenario(dir)
    } catch (e) {
      problems = (e as ValidationError).problems
    }
    const file = path.join(dir, 'scenario.yaml')
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:traffic: nope\\.jsonl does not exist`)),
      expect.stringContaining(':candidate: v3 does not exist'),
    ])
  })

  it('rejects bad values and unknown fields with file:field problems', () => {
    const dir = scenarioDir('name: x\ntraffic: traffic.jsonl\nbaseline: v1\ncandidate: v2\napprover: maybe\ncolour: red\n')
    try {
      loadScenario(dir)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError)
      const problems = (e as ValidationError).problems.join('\n')
      expect(problems).toContain('scenario.yaml:5:1: approver: must be one of "approve", "deny", "pending"')
      expect(problems).toContain('scenario.yaml:6:1: colour: unknown field "colour"')
    }
  })

  it('says when the scenario does not exist', () => {
    expect(() => loadScenario('/nonexistent/scenario')).toThrow(UnderstudyError)
    expect(() => loadScenario('/nonexistent/scenario')).toThrow(/no such scenario/)
  })
})
