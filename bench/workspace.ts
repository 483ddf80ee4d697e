import {closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {writeTraffic} from '../scenarios/support-refunds/generate.js'

/**
 * Where the bench finds the CLI and the scenario, and where it writes what it generates: one
 * directory under os.tmpdir(), removed at the end whatever happens.
 */

/** The repository root, from dist/bench/ (built) or bench/ (run from source). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bin', 'run.js'))) return dir
    dir = path.dirname(dir)
  }
  throw new Error(`bench: cannot find the repository root above ${fileURLToPath(import.meta.url)}`)
}

export const SCENARIO = 'scenarios/support-refunds'
/** The bundle's own model name, which the Ollama-protocol sandbox serves under the same name. */
export const SCENARIO_MODEL = 'support-agent'

export type Scenario = {dir: string; candidate: string; baseline: string; fixtures: string; skill: string}

export function scenarioPaths(root = repoRoot()): Scenario {
  const dir = path.join(root, SCENARIO)
  return {dir, candidate: path.join(dir, 'v2'), baseline: path.join(dir, 'v1'), fixtures: path.join(dir, 'fixtures.yaml'), skill: path.join(dir, 'skill', 'index.ts')}
}

export class Workspace {
  readonly dir: string
  private readonly traffic = new Map<string, string>()

  constructor(prefix = 'understudy-bench-') {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix))
  }

  file(name: string): string {
    return path.join(this.dir, name)
  }

  /** A traffic file of `count` generated requests (support-refunds generator), made once per bench run. */
  trafficFile(count: number, seed = 7): {file: string; generate_s: number; bytes: number} {
    const key = `${count}:${seed}`
    let file = this.traffic.get(key)
    let generate_s = 0
    if (file === undefined) {
      file = this.file(`traffic-${count}-${seed}.jsonl`)
      const t0 = performance.now()
      const fd = openSync(file, 'w')
      try {
        writeTraffic(fd, {count, seed})
      } finally {
        closeSync(fd)
      }
      generate_s = (performance.now() - t0) / 1000
      this.traffic.set(key, file)
    }
    return {file, generate_s, bytes: statSync(file).size}
  }

  /** Deletes a file now (a 1M-request traffic file or store should not wait for the end). */
  remove(file: string): void {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, {force: true})
    for (const [k, v] of this.traffic) if (v === file) this.traffic.delete(k)
  }

  cleanup(): void {
    rmSync(this.dir, {recursive: true, force: true})
  }
}
