import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {z} from 'zod'
import {UnderstudyError, ValidationError} from '../../src/errors.js'
import {ConfigPaths, configFileIn, loadConfigFile, parseConfigText} from '../../src/util/config-file.js'

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-config-'))
const file = (name: string, text: string): string => {
  const f = path.join(dir, name)
  writeFileSync(f, text)
  return f
}

function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (e) {
    if (e instanceof ValidationError) return e.problems
    throw e
  }
  throw new Error('expected a ValidationError')
}

const Schema = z.object({name: z.string(), limits: z.object({max: z.number()}).strict().default({max: 1})}).strict()

describe('loadConfigFile', () => {
  it('reads YAML and JSON into the schema, an empty file as {} so defaults apply', () => {
    expect(loadConfigFile(file('a.yaml', 'name: x\nlimits: {max: 3}\n'), Schema, {what: 'test config'})).toEqual({name: 'x', limits: {max: 3}})
    expect(loadConfigFile(file('a.json', '\ufeff{"name": "y"}'), Schema, {what: 'test config'})).toEqual({name: 'y', limits: {max: 1}})
    expect(loadConfigFile(file('empty.yaml', ''), z.object({n: z.number().default(2)}), {what: 'test config'})).toEqual({n: 2})
  })

  it('locates a YAML syntax error as file:LINE:COL', () => {
    const f = file('bad.yaml', 'name: x\nlimits:\n\tmax: 1\n')
    expect(problems(() => loadConfigFile(f, Schema, {what: 'test config'}))).toEqual([`${f}:3:1: Tabs are not allowed as indentation`])
  })

  it('locates a JSON syntax error as file:LINE:COL, where V8 gives no position too', () => {
    const f = file('bad.json', '{\n  "name": "x",\n  "limits": }\n')
    expect(problems(() => loadConfigFile(f, Schema, {what: 'test config'}))).toEqual([expect.stringMatching(new RegExp(`^${f}:3:13: Unexpected token`))])
  })

  it('locates a schema problem as file:LINE:COL: path.to.field, at the key', () => {
    const f = file('wrong.yaml', 'name: x\nlimits:\n  max: lots\n  min: 1\n')
    expect(problems(() => loadConfigFile(f, Schema, {what: 'test config'}))).toEqual([
      `${f}:3:3: limits.max: expected number, received string`,
      `${f}:4:3: limits.min: unknown field "min"`,
    ])
  })

  it('names the file and what it was for when it cannot be read', () => {
    expect(() => loadConfigFile(path.join(dir, 'missing.yaml'), Schema, {what: 'test config'})).toThrow(
      new UnderstudyError(`${path.join(dir, 'missing.yaml')}: cannot read test config (ENOENT)`),
    )
  })
})

describe('parseConfigText', () => {
  it('reports every YAML syntax error, not only the first', () => {
    const r = parseConfigText('x.yaml', 'a: 1\na: 2\nb: [\n')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.problems.length).toBeGreaterThan(1)
  })
})

describe('ConfigPaths', () => {
  it('resolves relative to the file and reports every missing or wrong path, located by field', () => {
    mkdirSync(path.join(dir, 'sub'), {recursive: true})
    writeFileSync(path.join(dir, 'sub', 'traffic.jsonl'), '')
    const cfg = path.join(dir, 'sub', 'scenario.yaml')
    const paths = new ConfigPaths(cfg)
    expect(paths.resolve(['traffic'], 'traffic.jsonl', 'file')).toBe(path.join(dir, 'sub', 'traffic.jsonl'))
    paths.resolve(['bundle'], 'traffic.jsonl', 'dir')
    paths.resolve(['steps', 1, 'rollback'], '../nope', 'any')
    expect(problems(() => paths.check())).toEqual([
      `${cfg}:bundle: traffic.jsonl is not a directory`,
      `${cfg}:steps.1.rollback: ../nope does not exist (resolved to ${path.join(dir, 'nope')})`,
    ])
  })

  it('finds the named file in a directory, or takes the file itself', () => {
    expect(configFileIn(path.join(dir, 'sub'), 'scenario.yaml', 'scenario')).toBe(path.join(dir, 'sub', 'scenario.yaml'))
    expect(configFileIn(path.join(dir, 'a.yaml'), 'scenario.yaml', 'scenario')).toBe(path.join(dir, 'a.yaml'))
    expect(() => configFileIn(path.join(dir, 'none'), 'scenario.yaml', 'scenario')).toThrow(`${path.join(dir, 'none')}: no such scenario directory or file`)
  })
})
