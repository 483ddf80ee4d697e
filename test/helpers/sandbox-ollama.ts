import {type ChildProcess, spawn} from 'node:child_process'
import path from 'node:path'
import {repoRoot} from './cli.js'

/** A spawned `understudy sandbox ollama` (the built CLI), once it says where it listens. */
export type SpawnedSandbox = {
  url: string
  proc: ChildProcess
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>
  /** Everything written so far. */
  stdout(): string
  stderr(): string
}

const running = new Set<ChildProcess>()

/**
 * Spawns `understudy sandbox ollama --port 0 <args>` and waits for its `listening on` line. A process
 * that exits first rejects with its stderr. Call killSandboxes() in afterEach: a stuck server must
 * fail its test, not outlive it.
 */
export async function spawnSandboxOllama(args: string[]): Promise<SpawnedSandbox> {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'bin', 'run.js'), 'sandbox', 'ollama', '--port', '0', ...args], {
    cwd: repoRoot,
    env: {...process.env, NO_COLOR: '1'},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(proc)
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => {
    running.delete(proc)
    resolve(code)
  }))
  let stdout = ''
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString()
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
      if (m) resolve(m[1]!)
    })
    proc.once('exit', (code) => reject(new Error(`sandbox ollama exited with ${code} before listening: ${stderr}`)))
  })
  return {url, proc, exited, stdout: () => stdout, stderr: () => stderr}
}

/** SIGKILLs every sandbox this worker spawned that is still running. */
export function killSandboxes(): void {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  running.clear()
}
