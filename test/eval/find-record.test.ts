import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ValidationError} from '../../src/errors.js'
import {findRecord} from '../../src/runs/traffic-join.js'
import {invalidTrafficLine, trafficLine} from '../factories/index.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-find-record-'))
})
afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
})

describe('findRecord', () => {
  it('refuses a request on an invalid line, listing every problem of that line', async () => {
    const file = path.join(dir, 'traffic.jsonl')
    writeFileSync(file, [trafficLine({id: 'a'}), invalidTrafficLine({id: 'b', tenant: '', timestamp: 'yesterday'})].join('\n') + '\n')
    const err = await findRecord(file, 'b').then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).message).toBe(`${file}:2: request b is on a line that does not validate`)
    expect((err as ValidationError).problems).toEqual([
      `${file}:2: timestamp: Invalid ISO datetime`,
      `${file}:2: tenant: Too small: expected string to have >=1 characters`,
    ])
  })
})
