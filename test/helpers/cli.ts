import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = path.join(repoRoot, 'bin', 'run.js')

export type CliResult = {code: number; stdout: string; stderr: string}

/**
 * Runs the built CLI (`npm test` builds first) as a user would, in `cwd`.
 * End-to-end tests use this; logic is tested by importing src/ directly.
 */
export function runCli(args: string[], options: {cwd?: string; env?: Record<string, string>; input?: string; timeoutMs?: number} = {}): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env},
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}
