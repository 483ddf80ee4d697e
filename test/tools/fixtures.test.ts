import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadFixtures, parseFixtures} from '../../src/tools/fixtures.js'
import {UnderstudyError, ValidationError} from '../../src/errors.js'

function problems(text: string): string[] {
  try {
    parseFixtures('fixtures.yaml', text)
  } catch (e) {
    if (e instanceof ValidationError) return e.problems
    throw e
  }
  return []
}

describe('fixtures', () => {
  it('parses tool defaults and fixtures, with defaults filled in', () => {
    const f = parseFixtures(
      'fixtures.yaml',
      'tools:\n  send_email:\n    default: {result: {id: 1}}\nfixtures:\n  - tool: t\n    error: {code: conflict}\n',
    )
    expect(f.tools.send_email?.default.result).toEqual({id: 1})
    expect(f.fixtures[0]).toEqual({tool: 't', match: {}, error: {code: 'conflict', message: ''}})
  })

  it('treats an empty file as no fixtures', () => {
    expect(parseFixtures('fixtures.yaml', '')).toEqual({tools: {}, fixtures: []})
  })

  it('names file and field in each problem', () => {
    // Any code a tool gives is accepted (#15); an empty one is not.
    expect(problems('fixtures:\n  - tool: t\n    error: {code: card_declined, message: x}\n')).toEqual([])
    expect(problems('fixtures:\n  - tool: t\n    error: {code: "", message: x}\n')).toEqual([expect.stringMatching(/^fixtures\.yaml:3:13: fixtures\.0\.error\.code: /)])
    expect(problems('fixtures:\n  - tool: t\n    result: 1\n    error: {code: timeout}\n')).toEqual([
      expect.stringMatching(/^fixtures\.yaml:2:5: fixtures\.0: needs exactly one of result or error/),
    ])
    expect(problems('fixtures:\n  - {tool: t}\n')).toEqual([
      expect.stringMatching(/^fixtures\.yaml:2:5: fixtures\.0: needs exactly one of result or error/),
    ])
    expect(problems('fixture: []\n')).toEqual(['fixtures.yaml:1:1: fixture: unknown field "fixture"'])
    expect(problems('tools:\n  t:\n    default: {result: 1, latency_ms: -1}\n')[0]).toMatch(/^fixtures\.yaml:3:26: tools\.t\.default\.latency_ms: /)
  })

  it('reports YAML syntax errors with a line', () => {
    expect(problems('fixtures: [\n')[0]).toMatch(/^fixtures\.yaml:\d+:\d+: /)
  })

  it('loads from disk, and says so when the file cannot be read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'understudy-fixtures-'))
    const file = path.join(dir, 'fixtures.yaml')
    writeFileSync(file, 'fixtures:\n  - tool: t\n    result: {ok: true}\n')
    expect(loadFixtures(file).fixtures).toHaveLength(1)
    expect(() => loadFixtures(path.join(dir, 'missing.yaml'))).toThrow(UnderstudyError)
    expect(() => loadFixtures(path.join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read fixtures \(ENOENT\)/)
  })
})
