import {spawn, type ChildProcess} from 'node:child_process'
import path from 'node:path'
import {Ollama} from 'ollama'
import {afterEach, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

describe('understudy sandbox ollama (built CLI)', () => {
  let child: ChildProcess | undefined
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    child = undefined
  })

  it('serves the scripted model to a real Ollama client and stops cleanly on SIGTERM', async () => {
    const proc = spawn(process.execPath, [path.join(repoRoot, 'bin', 'run.js'), 'sandbox', 'ollama', '--port', '0', '--model', 'support-v2'], {
      cwd: repoRoot,
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = proc
    let stdout = ''
    let stderr = ''
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const url = await new Promise<string>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString()
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
        if (m) resolve(m[1]!)
      })
      proc.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${stderr}`)))
    })
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))

    const ollama = new Ollama({host: url})
    expect((await ollama.list()).models.map((m) => m.name)).toEqual(['support-v2:latest'])
    const answer = await ollama.chat({model: 'support-v2', messages: [{role: 'user', content: 'hello'}], stream: false})
    expect(answer.done).toBe(true)
    expect(answer.message.role).toBe('assistant')
    await expect(ollama.chat({model: 'other', messages: [], stream: false})).rejects.toMatchObject({status_code: 404})

    proc.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stdout).toMatch(/stopped on SIGTERM after 3 requests/)
    expect(stderr).toBe('')
  })

  it('refuses a non-loopback host with a one-line error', async () => {
    const r = await runCli(['sandbox', 'ollama', '--host', '0.0.0.0', '--port', '0'])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim()).toBe('understudy: --host 0.0.0.0: the sandbox Ollama server only listens on loopback (127.0.0.1, ::1 or localhost)')
  })
})
