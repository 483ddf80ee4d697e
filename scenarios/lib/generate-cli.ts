/**
 * The command line every scenario generator shares: `--count N --seed S --out FILE|- --fixtures
 * FILE`, traffic streamed to the file in ~1 MiB writes (constant memory at any count), and bad
 * flags or failed writes reported as one line on stderr with a non-zero exit, never a stack trace.
 * A generator supplies only what is its own: its defaults, its traffic lines and its fixtures.
 */
import {closeSync, existsSync, openSync, writeSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {TrafficRecord} from '../../src/traffic/schema.js'

export type GenerateFlags = {count: number; seed: number; out: string | null; fixtures: string | null}

export type GeneratorDefaults = {count: number; seed: number}

export function parseGenerateFlags(argv: readonly string[], defaults: GeneratorDefaults): GenerateFlags {
  const flags: GenerateFlags = {count: defaults.count, seed: defaults.seed, out: null, fixtures: null}
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]
    const value = argv[i + 1]
    const need = (): string => {
      if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`)
      i++
      return value
    }
    const int = (v: string, min: number): number => {
      if (!/^-?\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new Error(`${name} must be an integer >= ${min}, got "${v}"`)
      return Number(v)
    }
    switch (name) {
      case '--count':
        flags.count = int(need(), 1)
        break
      case '--seed':
        flags.seed = int(need(), 0)
        break
      case '--out':
        flags.out = need()
        break
      case '--fixtures':
        flags.fixtures = need()
        break
      default:
        throw new Error(`unknown flag "${name}" (use --count N, --seed S, --out FILE, --fixtures FILE)`)
    }
  }
  if (flags.out === null && flags.fixtures === null) throw new Error('nothing to do: pass --out FILE (or - for stdout) and/or --fixtures FILE')
  return flags
}

/**
 * The scenario's source directory (the one holding v1/bundle.yaml), whether the generator at
 * `moduleUrl` runs from source or from dist/.
 */
export function findScenarioDir(moduleUrl: string, name: string): string {
  const here = path.dirname(fileURLToPath(moduleUrl))
  const candidates = [here, path.resolve(here, '..', '..', '..', 'scenarios', name)]
  const found = candidates.find((d) => existsSync(path.join(d, 'v1', 'bundle.yaml')))
  if (!found) throw new Error(`cannot find the ${name} scenario (looked in ${candidates.join(', ')})`)
  return found
}

/** One traffic line (no newline). Key order is fixed so the file reads naturally: who and what first, then what production did. */
export function trafficLine(record: Omit<TrafficRecord, 'production'>, production: TrafficRecord['production']): string {
  return JSON.stringify({
    id: record.id,
    timestamp: record.timestamp,
    tenant: record.tenant,
    user: record.user,
    role: record.role,
    session_id: record.session_id,
    input: record.input,
    ...(record.turns ? {turns: record.turns} : {}),
    retrieved: record.retrieved,
    memory: record.memory,
    production,
    labels: record.labels,
    ...(record.expect ? {expect: record.expect} : {}),
    ...(record.attacks.length > 0 ? {attacks: record.attacks} : {}),
  })
}

/** Buffers lines and writes them to `fd` in ~1 MiB chunks. */
class ChunkedLines {
  private buf = ''
  count = 0
  constructor(private readonly fd: number) {}

  add(line: string): void {
    this.buf += line + '\n'
    this.count++
    if (this.buf.length >= 1 << 20) {
      writeSync(this.fd, this.buf)
      this.buf = ''
    }
  }

  /** Writes what is left; returns how many lines were written in all. */
  finish(): number {
    if (this.buf.length > 0) writeSync(this.fd, this.buf)
    this.buf = ''
    return this.count
  }
}

/** Streams lines to a file descriptor in ~1 MiB writes; returns how many. */
export function writeLines(fd: number, lines: Iterable<string>): number {
  const out = new ChunkedLines(fd)
  for (const line of lines) out.add(line)
  return out.finish()
}

/** writeLines for a source that computes its lines asynchronously. */
export async function writeLinesAsync(fd: number, lines: AsyncIterable<string>): Promise<number> {
  const out = new ChunkedLines(fd)
  for await (const line of lines) out.add(line)
  return out.finish()
}

export type ScenarioGenerator = {
  defaults: GeneratorDefaults
  renderFixtures(): string
  writeTraffic(fd: number, opts: {count: number; seed: number}): number | Promise<number>
}

/** The generator's main: exit code 2 for bad flags, 1 for a failed write, 0 otherwise. */
export async function runGenerate(argv: readonly string[], generator: ScenarioGenerator): Promise<number> {
  let flags: GenerateFlags
  try {
    flags = parseGenerateFlags(argv, generator.defaults)
  } catch (e) {
    process.stderr.write(`generate: ${(e as Error).message}\n`)
    return 2
  }
  try {
    if (flags.fixtures) {
      const fd = openSync(flags.fixtures, 'w')
      try {
        writeSync(fd, generator.renderFixtures())
      } finally {
        closeSync(fd)
      }
    }
    if (flags.out) {
      const fd = flags.out === '-' ? 1 : openSync(flags.out, 'w')
      try {
        const n = await generator.writeTraffic(fd, {count: flags.count, seed: flags.seed})
        if (flags.out !== '-') process.stderr.write(`generate: wrote ${n} requests to ${flags.out}\n`)
      } finally {
        if (fd !== 1) closeSync(fd)
      }
    }
    return 0
  } catch (e) {
    process.stderr.write(`generate: ${(e as Error).message}\n`)
    return 1
  }
}
