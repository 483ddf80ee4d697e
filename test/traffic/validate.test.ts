import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {validateTraffic} from '../../src/traffic/validate.js'
import {validLine} from '../fixtures/traffic/records.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-validate-'))
})
afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
})

function write(name: string, lines: string[]): string {
  const file = path.join(dir, name)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

describe('validateTraffic', () => {
  it('counts a clean file as all valid', async () => {
    const file = write('clean.jsonl', [validLine('a'), '', validLine('b'), validLine('c')])
    expect(await validateTraffic(file)).toEqual({
      file,
      lines: 3,
      valid: 3,
      invalid: 0,
      errors: [],
      errorsTruncated: false,
      duplicateIds: 0,
    })
  })

  it('reports a repeated request id on the later line, naming the first', async () => {
    const file = write('dup.jsonl', [validLine('a'), validLine('b'), validLine('a'), validLine('c'), validLine('a')])
    const r = await validateTraffic(file)
    expect(r.duplicateIds).toBe(2)
    expect(r.valid).toBe(3)
    expect(r.invalid).toBe(2)
    expect(r.errors).toEqual([
      `${file}:3: id: duplicate request id "a" (first on line 1)`,
      `${file}:5: id: duplicate request id "a" (first on line 1)`,
    ])
  })

  it('counts the id of an invalid line as taken', async () => {
    const file = write('dup-invalid.jsonl', [validLine('a', {tenant: ''}), validLine('a')])
    const r = await validateTraffic(file)
    expect(r.errors).toHaveLength(2)
    expect(r.errors[0]).toMatch(new RegExp(`:1: tenant: `))
    expect(r.errors[1]).toBe(`${file}:2: id: duplicate request id "a" (first on line 1)`)
  })

  it('stops collecting after maxErrors but keeps counting', async () => {
    const lines = [validLine('ok')]
    for (let i = 0; i < 7; i++) lines.push(`{"id": "bad-${i}",`)
    const file = write('many-errors.jsonl', lines)
    const r = await validateTraffic(file, {maxErrors: 3})
    expect(r.lines).toBe(8)
    expect(r.valid).toBe(1)
    expect(r.invalid).toBe(7)
    expect(r.errors).toHaveLength(3)
    expect(r.errors[0]).toMatch(new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}:2: json: `))
    expect(r.errorsTruncated).toBe(true)

    const all = await validateTraffic(file, {maxErrors: 7})
    expect(all.errors).toHaveLength(7)
    expect(all.errorsTruncated).toBe(false)
  })
})
