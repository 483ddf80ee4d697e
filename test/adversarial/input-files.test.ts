import {execFileSync} from 'node:child_process'
import {chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {removeTempDirs, tempDir} from '../factories/temp-dir.js'
import {repoRoot, runCli, runCliProcess} from '../helpers/cli.js'

// Adversarial: input files that froze or crashed the CLI. A named pipe where a file is expected
// blocked the read forever; a YAML alias bomb or a value nested 100k deep came out as the parser's
// own error (`ReferenceError: Excessive alias count…`, `RangeError: Maximum call stack size
// exceeded`) naming no file; a store in a read-only directory could not even be read; a directory
// given as traffic was "no such traffic file". Each must fail at once, in one line naming the file.

const FIXTURE_BUNDLE = path.join(repoRoot, 'test/fixtures/bundles/refunds-v2')
const FIXTURE_TRAFFIC = path.join(repoRoot, 'test/fixtures/traffic/small.jsonl')
/** What no error message may show: a library's error class, or its wording for running out of stack or aliases. */
const RAW = /ReferenceError|RangeError|TypeError|Maximum call stack|Excessive alias count|^\s+at /m

let dir: string
beforeAll(() => {
  dir = tempDir('understudy-input-files-')
})
afterAll(removeTempDirs)

function fifo(name: string): string {
  const file = path.join(dir, name)
  mkdirSync(path.dirname(file), {recursive: true})
  execFileSync('mkfifo', [file])
  return file
}

function bundleCopy(name: string): string {
  const copy = path.join(dir, name)
  cpSync(FIXTURE_BUNDLE, copy, {recursive: true})
  return copy
}

/** A "billion laughs" document: nine aliases of nine aliases, nine levels down. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  for (const [prev, next] of ['ab', 'bc', 'cd', 'de', 'ef', 'fg', 'gh', 'hi']) lines.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`)
  return lines.join('\n') + '\n'
}

/** Every failure: non-zero exit, the file named, no library error, one line. */
function expectOneLine(r: {code: number; stdout: string; stderr: string}, file: string, message: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0)
  const text = r.stderr.trim()
  expect(text).toContain(path.basename(file))
  expect(text).toMatch(message)
  expect(text).not.toMatch(RAW)
  expect(text.split('\n')).toHaveLength(1)
}

describe('a named pipe where a file is expected fails at once, naming it', () => {
  // Spawned, with a deadline: a CLI that opens a pipe for reading waits for a writer forever.
  const NOT_REGULAR = /is not a regular file \(a named pipe\)/
  const cases: [string, () => {args: string[]; file: string}][] = [
    ['a prompt template (bundle validate)', () => {
      const b = bundleCopy('fifo-template')
      const file = path.join(b, 'prompts/system.md')
      execFileSync('rm', [file])
      execFileSync('mkfifo', [file])
      return {args: ['bundle', 'validate', b], file}
    }],
    ['a bundle manifest (bundle hash)', () => {
      const b = bundleCopy('fifo-manifest')
      const file = path.join(b, 'bundle.yaml')
      execFileSync('rm', [file])
      execFileSync('mkfifo', [file])
      return {args: ['bundle', 'hash', b], file}
    }],
    ['traffic (traffic validate)', () => {
      const file = fifo('t1.jsonl')
      return {args: ['traffic', 'validate', file], file}
    }],
    ['traffic (traffic stats)', () => {
      const file = fifo('t2.jsonl')
      return {args: ['traffic', 'stats', file], file}
    }],
    ['traffic (shadow)', () => {
      const file = fifo('t3.jsonl')
      return {args: ['shadow', file, '--candidate', FIXTURE_BUNDLE, '--skill', 'generic', '--db', path.join(dir, 's1.db')], file}
    }],
    ['a scenario file (shadow --scenario)', () => {
      const file = fifo('scenario-fifo/scenario.yaml')
      return {args: ['shadow', '--scenario', path.dirname(file), '--db', path.join(dir, 's2.db')], file}
    }],
    ['a drill file (drill)', () => {
      const file = fifo('drill-fifo/drill.yaml')
      return {args: ['drill', path.dirname(file), '--work', path.join(dir, 'drill-work')], file}
    }],
    ['a fixtures file (shadow --fixtures)', () => {
      const file = fifo('fixtures.yaml')
      return {args: ['shadow', FIXTURE_TRAFFIC, '--candidate', FIXTURE_BUNDLE, '--skill', 'generic', '--fixtures', file, '--db', path.join(dir, 's3.db')], file}
    }],
    ['a cassette (shadow --replay-cassette)', () => {
      const file = fifo('cassette.jsonl')
      return {args: ['shadow', FIXTURE_TRAFFIC, '--candidate', FIXTURE_BUNDLE, '--skill', 'generic', '--replay-cassette', file, '--db', path.join(dir, 's4.db')], file}
    }],
    ['a skill module (shadow --skill)', () => {
      const file = fifo('skill.js')
      return {args: ['shadow', FIXTURE_TRAFFIC, '--candidate', FIXTURE_BUNDLE, '--skill', file, '--db', path.join(dir, 's5.db')], file}
    }],
    ['a thresholds file (scorecard --thresholds)', () => {
      const file = fifo('thresholds.yaml')
      return {args: ['scorecard', 'r1', '--thresholds', file, '--db', path.join(dir, 'none.db')], file}
    }],
    ['an OTLP export (traffic import)', () => {
      const file = fifo('otlp.json')
      return {args: ['traffic', 'import', '--from', 'otel', file, '--out', path.join(dir, 'imported.jsonl')], file}
    }],
  ]
  it.each(cases)('%s', async (_name, make) => {
    const {args, file} = make()
    // A reader blocked on a FIFO with no writer waits forever: any bound catches it. This one leaves
    // room for a CLI start-up on a heavily loaded machine (15 s was once not enough at load 12 on 2 cores).
    const r = await runCliProcess(args, {timeoutMs: 25_000})
    expect(r.signal, `still waiting on the pipe: ${r.stderr}`).toBeNull()
    expectOneLine(r, file, NOT_REGULAR)
  }, 45_000)
})

describe('hostile YAML and JSON fail in one line naming the file', () => {
  it('a YAML alias bomb as a bundle manifest', async () => {
    const b = bundleCopy('bomb-bundle')
    writeFileSync(path.join(b, 'bundle.yaml'), aliasBomb())
    expectOneLine(await runCli(['bundle', 'validate', b]), path.join(b, 'bundle.yaml'), /bundle\.yaml: YAML aliases expand to too many nodes/)
  })

  it('a YAML alias bomb as a scenario file', async () => {
    const s = path.join(dir, 'bomb-scenario')
    mkdirSync(s)
    writeFileSync(path.join(s, 'scenario.yaml'), aliasBomb())
    expectOneLine(await runCli(['shadow', '--scenario', s, '--db', path.join(dir, 'b.db')]), 'scenario.yaml', /YAML aliases expand to too many nodes/)
  })

  it('a YAML alias bomb as a thresholds file', async () => {
    const file = path.join(dir, 'bomb-thresholds.yaml')
    writeFileSync(file, aliasBomb())
    expectOneLine(await runCli(['scorecard', 'r1', '--thresholds', file, '--db', path.join(dir, 'none.db')]), file, /YAML aliases expand to too many nodes/)
  })

  it('a broken bundle.json of 100k nested [ (line and column)', async () => {
    const b = bundleCopy('deep-broken-json')
    execFileSync('rm', [path.join(b, 'bundle.yaml')])
    writeFileSync(path.join(b, 'bundle.json'), '['.repeat(100_000))
    expectOneLine(await runCli(['bundle', 'validate', b]), 'bundle.json', /bundle\.json:1:\d+: /)
  })

  it('a valid bundle.json whose argument schema nests 20k deep (line and column)', async () => {
    const b = bundleCopy('deep-valid-json')
    const manifest = JSON.parse(execFileSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require('yaml').parse(require('fs').readFileSync(${JSON.stringify(path.join(b, 'bundle.yaml'))}, 'utf8'))))`], {cwd: repoRoot, encoding: 'utf8'}))
    execFileSync('rm', [path.join(b, 'bundle.yaml')])
    const depth = 20_000
    manifest.tools[0].args.properties.order_id = '__DEEP__'
    const deep = '{"type":"array","items":'.repeat(depth) + '{"type":"string"}' + '}'.repeat(depth)
    writeFileSync(path.join(b, 'bundle.json'), JSON.stringify(manifest).replace('"__DEEP__"', deep))
    for (const cmd of [['bundle', 'validate'], ['bundle', 'hash']]) {
      expectOneLine(await runCli([...cmd, b]), 'bundle.json', /bundle\.json:1:\d+: nested more than 256 levels deep/)
    }
  })

  it('a bundle.yaml of 100k nested flow sequences (line and column)', async () => {
    const b = bundleCopy('deep-yaml')
    writeFileSync(path.join(b, 'bundle.yaml'), `name: ${'['.repeat(100_000)}\n`)
    expectOneLine(await runCli(['bundle', 'validate', b]), 'bundle.yaml', /bundle\.yaml:1:\d+: nested more than 256 levels deep/)
  })

  it('a traffic line nested 100k deep is an invalid line, not a crash', async () => {
    const good = readFileSync(FIXTURE_TRAFFIC, 'utf8').split('\n')[0]!
    const record = JSON.parse(good)
    record.id = 'deep-one'
    record.production.tool_calls[0].args.deep = '__DEEP__'
    const file = path.join(dir, 'deep.jsonl')
    writeFileSync(file, `${good}\n${JSON.stringify(record).replace('"__DEEP__"', '['.repeat(100_000) + ']'.repeat(100_000))}\n`)
    const v = await runCli(['traffic', 'validate', file])
    expect(v.code).toBe(1)
    expect(v.stderr.trim()).toMatch(/deep\.jsonl:2: json: at column \d+: nested more than 256 levels deep/)
    const s = await runCli(['shadow', file, '--candidate', FIXTURE_BUNDLE, '--skill', 'generic', '--db', path.join(dir, 'deep.db')])
    expect(s.stderr).not.toMatch(RAW)
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/skipped lines 1/)
  })
})

describe('shadow on a directory', () => {
  it('says it is a directory', async () => {
    const r = await runCli(['shadow', dir, '--candidate', FIXTURE_BUNDLE, '--skill', 'generic', '--db', path.join(dir, 'd.db')])
    expectOneLine(r, dir, /is a directory, not a traffic file/)
    expect(r.stderr).not.toMatch(/no such traffic file/)
  })
})

// Root ignores permissions, so there the directory is not read-only at all.
describe.skipIf(process.getuid?.() === 0)('a store in a read-only directory', () => {
  it('is read by runs list, runs show, diff, report and scorecard', async () => {
    const ro = path.join(dir, 'read-only')
    mkdirSync(ro)
    const db = path.join(ro, 'u.db')
    const shadow = await runCli(['shadow', FIXTURE_TRAFFIC, '--candidate', FIXTURE_BUNDLE, '--skill', 'generic', '--db', db, '--json'])
    expect(shadow.code, shadow.stderr).toBe(0)
    const runId = (JSON.parse(shadow.stdout) as {run: {id: string}}).run.id
    chmodSync(ro, 0o555)
    try {
      for (const args of [['runs', 'list'], ['runs', 'show', runId], ['diff', runId, '--only', 'all'], ['report', runId], ['scorecard', runId]]) {
        const r = await runCli([...args, '--db', db])
        expect(r.stderr, args.join(' ')).toBe('')
        expect(r.code, args.join(' ')).toBe(0)
        expect(r.stdout.length).toBeGreaterThan(0)
      }
    } finally {
      chmodSync(ro, 0o755)
    }
  })
})
