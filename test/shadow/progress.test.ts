import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {emptyProgress, progressFigures, progressLine, type ShadowProgress} from '../../src/shadow/progress.js'
import {resumeShadow, startShadow} from '../../src/shadow/run.js'
import type {TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {digestTraffic, readTraffic} from '../../src/traffic/reader.js'
import {repoRoot} from '../helpers/cli.js'

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const v2 = path.join(scenario, 'v2')
const fixtures = path.join(scenario, 'fixtures.yaml')
const skills = [path.join(scenario, 'skill', 'index.ts')]

let dir: string
let store: TraceDatabase
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-progress-'))
  store = openStore(path.join(dir, 'u.db'))
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

function trafficFile(n: number, separator = '\n'): string {
  const lines = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(0, n)
  const file = path.join(dir, 't.jsonl')
  writeFileSync(file, lines.join(separator) + '\n')
  return file
}

/** What the progress display showed at each update (the progress object is live, so copied). */
function recorder(): {seen: {line: string; fraction: number; finished: number}[]; onProgress: (p: ShadowProgress) => void} {
  const seen: {line: string; fraction: number; finished: number}[] = []
  return {
    seen,
    onProgress: (p) => seen.push({line: progressLine(p), fraction: progressFigures(p).fraction, finished: p.requests + p.skipped + p.already_stored}),
  }
}

describe('shadow progress', () => {
  it('is requests finished over the total, not lines read ahead by the requests in flight', async () => {
    const {seen, onProgress} = recorder()
    await startShadow({traffic: trafficFile(50), candidate: v2, fixtures, skills, concurrency: 8}, store, {onProgress})
    expect(seen[0]!.line).toMatch(/^1 requests \(2%\)/)
    for (const s of seen) expect(s.fraction).toBeCloseTo(s.finished / 50, 10)
    expect(seen.at(-1)!.line).toMatch(/^50 requests \(100%\)/)
  })

  it('counts only requests, not blank lines, and only up to --limit', async () => {
    const {seen, onProgress} = recorder()
    await startShadow({traffic: trafficFile(50, '\n\n  \n'), candidate: v2, fixtures, skills, limit: 20}, store, {onProgress})
    expect(seen[0]!.fraction).toBe(1 / 20)
    expect(seen.at(-1)!.line).toMatch(/^20 requests \(100%\)/)
  })

  it('counts requests already stored when resuming', async () => {
    const file = trafficFile(40)
    const controller = new AbortController()
    const first = await startShadow({traffic: file, candidate: v2, fixtures, skills, concurrency: 2}, store, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.requests >= 10) controller.abort()
      },
    })
    expect(first.interrupted).toBe(true)
    expect(progressFigures(first.progress).fraction).toBeLessThan(1)
    const second = await resumeShadow(first.run.id, store)
    expect(second.progress.already_stored).toBeGreaterThanOrEqual(10)
    expect(progressFigures(second.progress).fraction).toBe(1)
  })

  it('shows no progress as complete before anything finished', () => {
    expect(progressLine(emptyProgress(50), Date.now())).toMatch(/^0 requests \(0%\)/)
  })
})

describe('digestTraffic', () => {
  async function yielded(file: string): Promise<number> {
    let n = 0
    for await (const _ of readTraffic(file)) n++
    return n
  }

  it('counts the lines readTraffic yields: blank, whitespace-only and CRLF lines, a BOM, no final newline', async () => {
    const cases: Record<string, string | Buffer> = {
      plain: '{"a":1}\n{"a":2}\n',
      blanks: '\n\n{"a":1}\n  \t\r\n\n{"a":2}',
      crlf: '{"a":1}\r\n\r\n{"a":2}\r\n',
      bom: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('\n{"a":1}\n')]),
      bomOnly: Buffer.from([0xef, 0xbb, 0xbf, 0x20, 0x0a]),
      junk: 'x\n \u000b \n',
      empty: '',
    }
    for (const [name, content] of Object.entries(cases)) {
      const file = path.join(dir, `${name}.jsonl`)
      writeFileSync(file, content)
      expect((await digestTraffic(file)).lines, name).toBe(await yielded(file))
    }
  })

  it('counts lines across read chunks, with blanks and long lines straddling the boundaries', async () => {
    const parts: string[] = []
    for (let i = 0; i < 600; i++) parts.push(i % 7 === 0 ? ' '.repeat(5000) : `{"id":"r${i}","pad":"${'x'.repeat(i * 13)}"}`)
    const file = path.join(dir, 'big.jsonl')
    writeFileSync(file, parts.join('\n'))
    const n = await yielded(file)
    expect(n).toBe(600 - Math.ceil(600 / 7))
    expect((await digestTraffic(file)).lines).toBe(n)
  })
})
