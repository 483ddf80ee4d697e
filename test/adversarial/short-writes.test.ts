import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import fs from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {FileWriteError} from '../../src/errors.js'
import {loadCassette, recordingModel} from '../../src/model/cassette.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import type {ChatRequest} from '../../src/model/types.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {type FileIo, setFileIo, writeFileAtomic, writeFileAtomicAsync} from '../../src/util/atomic-write.js'
import {baseTrace, removeTempDirs, tempDir, trace, trafficLine, writeRun} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * A full disk does not fail a write outright: write(2) first writes what fits and returns fewer
 * bytes than asked, and only the next call fails with ENOSPC. Every artefact writer must notice,
 * leave what was there before intact, and fail. The file-system calls are replaced through the
 * writers' seam (setFileIo) with ones that behave as a full disk does.
 */

// The CLI runs the compiled commands in this process, loaded by Node's own loader (not vitest's):
// the seam they use is dist/'s module as Node loaded it, so it is loaded the same way here (Node's
// require of an ES module shares the import cache).
const compiled = createRequire(import.meta.url)(path.join(repoRoot, 'dist', 'src', 'util', 'atomic-write.js')) as {setFileIo: typeof setFileIo}

const restores: (() => void)[] = []
afterEach(() => {
  for (const restore of restores.splice(0)) restore()
  removeTempDirs()
})

/** A disk with `room` bytes left: writes what fits (a short write), then ENOSPC. */
function diskWithRoom(room: number): Partial<FileIo> {
  let left = room
  return {
    writeSync(fd, buffer, offset, length) {
      if (left <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC', errno: -28, syscall: 'write'})
      const n = fs.writeSync(fd, buffer, offset, Math.min(length, left))
      left -= n
      return n
    },
  }
}

/** A write(2) that returns after at most `max` bytes every time, without any error. */
function dribble(max: number): Partial<FileIo> {
  return {writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, Math.min(length, max))}
}

const strays = (dir: string, name: string) => readdirSync(dir).filter((f) => f !== name && f.includes(name))

describe('writeFileAtomic on a disk that fills up', () => {
  it('writes every byte when write(2) keeps returning short counts', async () => {
    const dir = tempDir()
    restores.push(setFileIo(dribble(7)))
    const text = 'é'.repeat(500) + '\n' + 'x'.repeat(1000)
    writeFileAtomic(path.join(dir, 'a.txt'), text)
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe(text)
    await writeFileAtomicAsync(path.join(dir, 'b.txt'), ['first ', text, ' last'])
    expect(readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe(`first ${text} last`)
  })

  it.each([
    ['one chunk', (f: string) => writeFileAtomic(f, 'N'.repeat(5000))],
    ['chunks', (f: string) => writeFileAtomic(f, ['N'.repeat(3000), 'N'.repeat(3000)])],
    ['chunks produced asynchronously', (f: string) => writeFileAtomicAsync(f, ['N'.repeat(3000), 'N'.repeat(3000)])],
  ])('%s: a short write then ENOSPC leaves the previous file whole and no temporary file', async (_label, write) => {
    const dir = tempDir()
    const file = path.join(dir, 'report.html')
    writeFileSync(file, 'previous report')
    restores.push(setFileIo(diskWithRoom(2048)))
    const error = await Promise.resolve()
      .then(() => write(file))
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(FileWriteError)
    expect((error as Error).message).toBe(`${file}: cannot write (ENOSPC: no space left on device); nothing was written, the file is as it was`)
    expect(readFileSync(file, 'utf8')).toBe('previous report')
    expect(strays(dir, 'report.html')).toEqual([])
  })

  it('a failed fsync or rename leaves the previous file too', () => {
    const dir = tempDir()
    const file = path.join(dir, 'r.md')
    writeFileSync(file, 'old')
    const eio = () => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), {code: 'EIO'})
    }
    restores.push(setFileIo({fsyncSync: eio}))
    expect(() => writeFileAtomic(file, 'new')).toThrow(/r\.md: cannot write \(EIO: input\/output error\)/)
    restores.pop()!()
    restores.push(setFileIo({renameSync: eio}))
    expect(() => writeFileAtomic(file, 'new')).toThrow(FileWriteError)
    expect(readFileSync(file, 'utf8')).toBe('old')
    expect(strays(dir, 'r.md')).toEqual([])
  })
})

describe('report --out on a full disk', () => {
  it('exits non-zero, says so, and leaves the previous report as it was', async () => {
    const dir = tempDir()
    const db = path.join(dir, 'u.db')
    const run = writeRun(db, [baseTrace({request_id: 'r1', line: 1}), trace({request_id: 'r1', line: 1, status: 'refused'})])
    const out = path.join(dir, 'report.html')
    const ok = await runCli(['report', run.id, '--db', db, '--out', out], {cwd: dir})
    expect(ok.code).toBe(0)
    const previous = readFileSync(out, 'utf8')
    expect(previous.length).toBeGreaterThan(4096)

    restores.push(compiled.setFileIo(diskWithRoom(4096)))
    const r = await runCli(['report', run.id, '--db', db, '--out', out], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stdout).not.toMatch(/wrote/)
    expect(r.stderr).toBe(`understudy: ${out}: cannot write (ENOSPC: no space left on device); nothing was written, the file is as it was\n`)
    expect(readFileSync(out, 'utf8')).toBe(previous)
    expect(strays(dir, 'report.html')).toEqual([])
  })
})

describe('incident to-test on a full disk', () => {
  it('exits non-zero and leaves the golden file as it was', async () => {
    const dir = tempDir()
    const db = path.join(dir, 'u.db')
    const traffic = path.join(dir, 'traffic.jsonl')
    writeFileSync(traffic, trafficLine({id: 'r1'}) + '\n')
    const run = writeRun(db, [baseTrace({request_id: 'r1', line: 1}), trace({request_id: 'r1', line: 1, status: 'refused'})], {run: {traffic_file: traffic}})
    const golden = path.join(dir, 'golden.jsonl')
    const before = `${trafficLine({id: 'older-case'})}\n`
    writeFileSync(golden, before)

    restores.push(compiled.setFileIo(diskWithRoom(100)))
    const r = await runCli(['incident', 'to-test', run.id, '--request', 'r1', '--decision', 'allow', '--db', db], {cwd: dir})
    expect(r.stderr).toMatch(/golden\.jsonl: cannot write \(ENOSPC: no space left on device\)/)
    expect(r.code).toBe(1)
    expect(readFileSync(golden, 'utf8')).toBe(before)
    expect(strays(dir, 'golden.jsonl')).toEqual([])
  })
})

describe('cassette recorder on a full disk', () => {
  const request = (text: string): ChatRequest => ({
    model: 'm',
    messages: [{role: 'user', content: text}],
    tools: [],
    options: {temperature: 0, seed: 0, num_predict: 64},
  })

  it('fails the exchange and cuts the cassette back to its last whole entry', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'c.jsonl')
    const model = recordingModel(createScriptedModel({name: 'm', seed: 0}), file, {redactor: createRedactor(), onWarning: () => {}})
    await model.chat(request('first question'))
    const firstEntry = readFileSync(file, 'utf8')
    expect(firstEntry.endsWith('\n')).toBe(true)

    restores.push(setFileIo(diskWithRoom(40)))
    const error = await model.chat(request('second question')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FileWriteError)
    expect((error as Error).message).toMatch(new RegExp(`^${file}: cannot append to the cassette \\(ENOSPC: no space left on device\\)`))
    await model.close?.()
    // Not a torn line that the next reader has to forgive: exactly the entries written whole.
    expect(readFileSync(file, 'utf8')).toBe(firstEntry)
    const warnings: string[] = []
    expect(loadCassette(file, (w) => warnings.push(w))).toHaveLength(1)
    expect(warnings).toEqual([])
    expect(existsSync(file)).toBe(true)
  })
})
