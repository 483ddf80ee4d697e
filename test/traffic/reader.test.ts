import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync, appendFileSync, readFileSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {UnderstudyError} from '../../src/errors.js'
import {readTraffic, sha256File, type TrafficLine, type TrafficProblem} from '../../src/traffic/reader.js'
import {invalidTrafficRecordInput, trafficLine, trafficRecordInput} from '../factories/index.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-reader-'))
})
afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
})

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name)
  writeFileSync(file, content)
  return file
}

async function readAll(file: string, opts?: Parameters<typeof readTraffic>[1]): Promise<TrafficLine[]> {
  const out: TrafficLine[] = []
  for await (const l of readTraffic(file, opts)) out.push(l)
  return out
}

function errorOf(l: TrafficLine | undefined): string {
  if (!l || l.ok) throw new Error(`expected a bad line, got ${JSON.stringify(l)}`)
  return l.error
}

function problemsOf(l: TrafficLine | undefined): TrafficProblem[] {
  if (!l || l.ok) throw new Error(`expected a bad line, got ${JSON.stringify(l)}`)
  return l.problems
}

describe('readTraffic', () => {
  it('reads a valid file, one record per line, with line numbers and byte sizes', async () => {
    const lines = [trafficLine({id: 'r1'}), trafficLine({id: 'r2', tenant: 'globex'}), trafficLine({id: 'r3'})]
    const file = write('valid.jsonl', lines.join('\n') + '\n')
    const got = await readAll(file)
    expect(got.map((l) => [l.line, l.ok])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ])
    const second = got[1]!
    expect(second.ok && second.record.tenant).toBe('globex')
    // Schema defaults are applied.
    expect(got[0]!.ok && got[0]!.record.production.tool_calls).toEqual([])
    expect(got.reduce((n, l) => n + l.bytes, 0)).toBe(statSync(file).size)
  })

  it('reports malformed JSON with the file, line number and column', async () => {
    const file = write('malformed.jsonl', [trafficLine({id: 'r1'}), '{"id": "r2", "tenant": }', trafficLine({id: 'r3'})].join('\n') + '\n')
    const got = await readAll(file)
    expect(got.map((l) => l.ok)).toEqual([true, false, true])
    expect(errorOf(got[1])).toBe(`${file}:2: json: invalid JSON at column 24: unexpected '}' (expected a value)`)
    expect(got[1]!.ok === false && got[1]!.id).toBe('r2')
  })

  it('names the field path of a schema error, and keeps the request id', async () => {
    const rec = invalidTrafficRecordInput({
      id: 'r1',
      production: {
        tool_calls: [
          {id: 'c1', name: 'a', args: {}, latency_ms: 1},
          {id: 'c2', name: 'b', args: {}, latency_ms: 1},
          {id: 'c3', name: 'c', args: {}, latency_ms: 'slow'},
        ],
      },
    })
    const file = write('schema.jsonl', JSON.stringify(rec) + '\n')
    const [l] = await readAll(file)
    expect(errorOf(l)).toMatch(new RegExp(`^${escapeText(file)}:1: production\\.tool_calls\\.2\\.latency_ms: .*expected number`))
    expect(l!.ok === false && l!.id).toBe('r1')
  })

  it('names a missing field and an unknown field', async () => {
    const missing = invalidTrafficRecordInput({id: 'r1', tenant: undefined})
    const unknown = invalidTrafficRecordInput({id: 'r2', tenat: 'acme'})
    const file = write('fields.jsonl', JSON.stringify(missing) + '\n' + JSON.stringify(unknown) + '\n')
    const [a, b] = await readAll(file)
    expect(errorOf(a)).toBe(`${file}:1: tenant: missing (expected string)`)
    expect(errorOf(b)).toBe(`${file}:2: tenat: unknown field (not in the traffic schema)`)
  })

  it('returns every problem of a line with two bad fields, and names both in the summary', async () => {
    const rec = invalidTrafficRecordInput({id: 'r1', tenant: '', timestamp: 'yesterday'})
    const file = write('two-bad.jsonl', JSON.stringify(rec) + '\n')
    const [l] = await readAll(file)
    expect(problemsOf(l)).toEqual([
      {field: 'timestamp', message: 'Invalid ISO datetime'},
      {field: 'tenant', message: 'Too small: expected string to have >=1 characters'},
    ])
    expect(errorOf(l)).toBe(`${file}:1: timestamp: Invalid ISO datetime (and 1 more problem on this line: tenant)`)
  })

  it('returns every problem of a line with three bad fields, nested ones as dotted paths', async () => {
    const rec = invalidTrafficRecordInput({
      id: 'r1',
      user: undefined,
      production: {tool_calls: [{id: 'c1', name: 'lookup', args: 'order 7', latency_ms: 1}], usage: {input_tokens: -1, output_tokens: 5}},
    })
    const file = write('three-bad.jsonl', JSON.stringify(rec) + '\n')
    const [l] = await readAll(file)
    expect(problemsOf(l).map((p) => p.field)).toEqual(['user', 'production.tool_calls.0.args', 'production.usage.input_tokens'])
    expect(problemsOf(l)[0]).toEqual({field: 'user', message: 'missing (expected string)'})
    expect(problemsOf(l)[1]!.message).toMatch(/expected record/)
    expect(errorOf(l)).toBe(
      `${file}:1: user: missing (expected string) (and 2 more problems on this line: production.tool_calls.0.args, production.usage.input_tokens)`,
    )
    expect(l!.ok === false && l!.id).toBe('r1')
  })

  it('gives each unknown field its own problem, quoting a key that is not a plain name', async () => {
    const rec = invalidTrafficRecordInput({id: 'r1', tenat: 'acme', 'two\nlines': 1, production: {extra: true}})
    const file = write('unknown-keys.jsonl', JSON.stringify(rec) + '\n')
    const [l] = await readAll(file)
    expect(problemsOf(l)).toEqual([
      {field: 'production.extra', message: 'unknown field (not in the traffic schema)'},
      {field: 'tenat', message: 'unknown field (not in the traffic schema)'},
      {field: '"two\\nlines"', message: 'unknown field (not in the traffic schema)'},
    ])
    expect(errorOf(l)).not.toContain('\n')
  })

  it('a line that is not JSON at all is one problem, with its column', async () => {
    const file = write('not-json.jsonl', 'id=r1 tenant=acme user=u-1\n')
    const [l] = await readAll(file)
    expect(problemsOf(l)).toEqual([{field: 'json', message: expect.stringMatching(/^invalid JSON at column 1: /)}])
    expect(errorOf(l)).toBe(`${file}:1: json: ${problemsOf(l)[0]!.message}`)
  })

  it('strips a UTF-8 BOM at the start of the file only', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf])
    const file = write('bom.jsonl', Buffer.concat([bom, Buffer.from(trafficLine({id: 'r1'}) + '\n'), bom, Buffer.from(trafficLine({id: 'r2'}) + '\n')]))
    const got = await readAll(file)
    expect(got[0]!.ok).toBe(true)
    expect(got[0]!.bytes).toBe(3 + trafficLine({id: 'r1'}).length + 1)
    // A BOM in the middle of a file is a stray character, not a marker.
    expect(errorOf(got[1])).toBe(`${file}:2: json: invalid JSON at column 1: unexpected character U+FEFF (expected a value)`)
  })

  it('reads CRLF files', async () => {
    const file = write('crlf.jsonl', `${trafficLine({id: 'r1'})}\r\n${trafficLine({id: 'r2'})}\r\n`)
    const got = await readAll(file)
    expect(got.map((l) => l.ok && l.record.id)).toEqual(['r1', 'r2'])
  })

  it('skips blank and whitespace-only lines but counts them', async () => {
    const file = write('blank.jsonl', `\n${trafficLine({id: 'r1'})}\n   \n\t\r\n\n${trafficLine({id: 'r2'})}\n\n`)
    const got = await readAll(file)
    expect(got.map((l) => [l.line, l.ok && l.record.id])).toEqual([
      [2, 'r1'],
      [6, 'r2'],
    ])
  })

  it('reports an unparseable last line without a newline as truncated', async () => {
    const full = trafficLine({id: 'r2'})
    const file = write('truncated.jsonl', `${trafficLine({id: 'r1'})}\n${full.slice(0, 40)}`)
    const got = await readAll(file)
    expect(got).toHaveLength(2)
    expect(errorOf(got[1])).toMatch(
      new RegExp(`^${escapeText(file)}:2: json: truncated last line \\(no newline at end of file\\): invalid JSON at column 41: unexpected end of line`),
    )
    expect(got[1]!.ok === false && got[1]!.id).toBe('r2')
    // A complete last line without a newline is fine.
    const ok = write('no-final-newline.jsonl', `${trafficLine({id: 'r1'})}\n${full}`)
    expect((await readAll(ok)).map((l) => l.ok)).toEqual([true, true])
  })

  it('reports invalid UTF-8 with the byte offset within the line', async () => {
    const good = Buffer.from(trafficLine({id: 'r1'}))
    const prefix = Buffer.from('{"id":"r2","tenant":"ac')
    const bad = Buffer.concat([prefix, Buffer.from([0xc3, 0x28]), Buffer.from('me"}')])
    const file = write('utf8.jsonl', Buffer.concat([good, Buffer.from('\n'), bad, Buffer.from('\n'), good, Buffer.from('\n')]))
    const got = await readAll(file)
    expect(got.map((l) => l.ok)).toEqual([true, false, true])
    expect(errorOf(got[1])).toBe(`${file}:2: encoding: invalid UTF-8 at byte ${prefix.length} of the line: bad sequence 0xC3 0x28`)
    expect(got[1]!.ok === false && got[1]!.id).toBe('r2')
  })

  it('accepts multi-byte UTF-8 text', async () => {
    const file = write('unicode.jsonl', trafficLine({id: 'r1', user: 'Zoë 🚀 日本'}) + '\n')
    const [l] = await readAll(file)
    expect(l!.ok && l!.record.user).toBe('Zoë 🚀 日本')
  })

  it('parses a valid 10 MB line', async () => {
    const big = 'x'.repeat(10 * 1024 * 1024)
    const rec = trafficRecordInput({id: 'big', production: {final_answer: big}})
    const file = write('big.jsonl', JSON.stringify(rec) + '\n' + trafficLine({id: 'after'}) + '\n')
    const got = await readAll(file)
    expect(got.map((l) => l.ok)).toEqual([true, true])
    expect(got[0]!.ok && got[0]!.record.production.final_answer.length).toBe(big.length)
  })

  it('reports a line over maxLineBytes and goes on with the next line', async () => {
    const long = trafficLine({id: 'long', user: 'y'.repeat(5000)})
    const file = write('over.jsonl', `${trafficLine({id: 'r1'})}\n${long}\n${trafficLine({id: 'r3'})}\n`)
    const got = await readAll(file, {maxLineBytes: 1000})
    expect(got.map((l) => [l.line, l.ok])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ])
    expect(errorOf(got[1])).toBe(`${file}:2: line: line is ${Buffer.byteLength(long)} bytes, over the 1000-byte limit`)
    expect(got[1]!.ok === false && got[1]!.id).toBe('long')
    expect(got[2]!.ok && got[2]!.record.id).toBe('r3')
    expect(got.reduce((n, l) => n + l.bytes, 0)).toBe(statSync(file).size)
  })

  it('reports a line over the limit that spans read chunks, and an over-limit last line', async () => {
    const huge = 'z'.repeat(3 * 1024 * 1024)
    const file = write('over-chunks.jsonl', `${huge}\n${trafficLine({id: 'r2'})}\n${huge}`)
    const got = await readAll(file, {maxLineBytes: 64 * 1024})
    expect(got.map((l) => l.ok)).toEqual([false, true, false])
    expect(errorOf(got[0])).toBe(`${file}:1: line: line is ${huge.length} bytes, over the 64 KiB limit`)
    expect(errorOf(got[2])).toBe(`${file}:3: line: line is ${huge.length} bytes, over the 64 KiB limit`)
  })

  it('uses a 16 MiB default limit', async () => {
    const huge = '{"id":"h","pad":"' + 'p'.repeat(16 * 1024 * 1024) + '"}'
    const file = write('over-default.jsonl', `${huge}\n${trafficLine({id: 'r2'})}\n`)
    const got = await readAll(file)
    expect(errorOf(got[0])).toBe(`${file}:1: line: line is ${huge.length} bytes, over the 16 MiB limit`)
    expect(got[0]!.ok === false && got[0]!.id).toBe('h')
    expect(got[1]!.ok).toBe(true)
  })

  it('says so when a line is JSON but not an object', async () => {
    const file = write('nonobject.jsonl', '[1,2]\n"text"\n42\nnull\n')
    const got = await readAll(file)
    expect(got.map(errorOf)).toEqual([
      `${file}:1: json: expected a JSON object (one request per line), got an array`,
      `${file}:2: json: expected a JSON object (one request per line), got a string`,
      `${file}:3: json: expected a JSON object (one request per line), got a number`,
      `${file}:4: json: expected a JSON object (one request per line), got null`,
    ])
  })

  it('skips lines before startLine while still counting them', async () => {
    const file = write('resume.jsonl', ['{bad', trafficLine({id: 'r2'}), '', trafficLine({id: 'r4'}), trafficLine({id: 'r5'})].join('\n') + '\n')
    const got = await readAll(file, {startLine: 4})
    expect(got.map((l) => [l.line, l.ok && l.record.id])).toEqual([
      [4, 'r4'],
      [5, 'r5'],
    ])
  })

  it('stops when the signal is aborted', async () => {
    const file = write('abort.jsonl', [trafficLine({id: 'r1'}), trafficLine({id: 'r2'}), trafficLine({id: 'r3'})].join('\n') + '\n')
    const ac = new AbortController()
    const seen: number[] = []
    await expect(
      (async () => {
        for await (const l of readTraffic(file, {signal: ac.signal})) {
          seen.push(l.line)
          ac.abort()
        }
      })(),
    ).rejects.toThrow()
    expect(seen).toEqual([1])
  })

  it('turns a missing file into a one-line UnderstudyError', async () => {
    const missing = path.join(dir, 'nope.jsonl')
    const err = await readAll(missing).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnderstudyError)
    expect((err as Error).message).toBe(`${missing}: cannot read traffic file: no such file`)
    const dirErr = await readAll(dir).catch((e: unknown) => e)
    expect((dirErr as Error).message).toBe(`${dir}: cannot read traffic file: is a directory, not a traffic file`)
  })

  it('streams a 200k-line file without holding its lines', async () => {
    const file = path.join(dir, 'many.jsonl')
    writeFileSync(file, '')
    const pad = 'p'.repeat(300)
    const n = 200_000
    for (let start = 0; start < n; start += 20_000) {
      const batch: string[] = []
      for (let i = start; i < start + 20_000; i++) batch.push(trafficLine({id: `req-${i}`, user: `u-${i}-${pad}`}))
      appendFileSync(file, batch.join('\n') + '\n')
    }
    const size = statSync(file).size
    expect(size).toBeGreaterThan(80 * 1024 * 1024)

    const gc = exposeGc()
    gc()
    const before = process.memoryUsage().heapUsed
    let peak = 0
    let count = 0
    let lastId = ''
    for await (const l of readTraffic(file)) {
      if (!l.ok) throw new Error(l.error)
      count++
      lastId = l.record.id
      if (count % 25_000 === 0) {
        gc()
        peak = Math.max(peak, process.memoryUsage().heapUsed - before)
      }
    }
    expect(count).toBe(n)
    expect(lastId).toBe(`req-${n - 1}`)
    // Holding the lines would keep at least the file's size live; streaming keeps about one read chunk.
    expect(peak).toBeLessThan(size / 4)
    // What is checked is memory; the time is mostly writing the 80 MB file, which a heavily loaded
    // machine once stretched past the default 30 s.
  }, 90_000)
})

describe('sha256File', () => {
  it('hashes the file bytes', async () => {
    const content = Buffer.concat([Buffer.from(trafficLine({id: 'r1'}) + '\n'), Buffer.alloc(3 * 1024 * 1024, 0x61)])
    const file = write('hash.jsonl', content)
    expect(await sha256File(file)).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'))
    await expect(sha256File(path.join(dir, 'missing'))).rejects.toThrow(/cannot read traffic file: no such file/)
  })
})

function escapeText(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** global.gc without restarting node with --expose-gc: the flag takes effect for contexts made after it. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}
