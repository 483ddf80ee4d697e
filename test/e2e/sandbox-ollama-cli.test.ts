import {Ollama} from 'ollama'
import {afterEach, describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'
import {killSandboxes, spawnSandboxOllama} from '../helpers/sandbox-ollama.js'

describe('understudy sandbox ollama (built CLI)', () => {
  afterEach(killSandboxes)

  it('serves the scripted model to a real Ollama client and stops cleanly on SIGTERM', async () => {
    const {url, proc, exited, stdout, stderr} = await spawnSandboxOllama(['--model', 'support-v2'])

    const ollama = new Ollama({host: url})
    expect((await ollama.list()).models.map((m) => m.name)).toEqual(['support-v2:latest'])
    const answer = await ollama.chat({model: 'support-v2', messages: [{role: 'user', content: 'hello'}], stream: false})
    expect(answer.done).toBe(true)
    expect(answer.message.role).toBe('assistant')
    await expect(ollama.chat({model: 'other', messages: [], stream: false})).rejects.toMatchObject({status_code: 404})

    proc.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stdout()).toMatch(/stopped on SIGTERM after 3 requests/)
    expect(stderr()).toBe('')
  })

  it('plays a thinking model out of budget, a model without tools and a cold load (--think-budget, --no-tools, --load-ms)', async () => {
    const {url} = await spawnSandboxOllama(['--model', 'support-v2', '--think-budget', '16', '--no-tools', '--load-ms', '50'])
    const ollama = new Ollama({host: url})
    expect((await ollama.show({model: 'support-v2'})).capabilities).toEqual(['completion', 'thinking'])
    expect(await ollama.chat({model: 'support-v2', messages: [], stream: false})).toMatchObject({done_reason: 'load', done: true})
    const tool = {type: 'function', function: {name: 't', description: 'd', parameters: {type: 'object', properties: {}}}}
    await expect(ollama.chat({model: 'support-v2', messages: [{role: 'user', content: 'hi'}], tools: [tool], stream: false})).rejects.toMatchObject({
      status_code: 400,
      error: 'registry.ollama.ai/library/support-v2:latest does not support tools',
    })
    const r = await ollama.chat({model: 'support-v2', messages: [{role: 'user', content: 'hi'}], think: true, stream: false})
    expect(r).toMatchObject({done_reason: 'length', eval_count: 16, message: {content: ''}})
  })

  it('refuses a non-loopback host with a one-line error', async () => {
    const r = await runCli(['sandbox', 'ollama', '--host', '0.0.0.0', '--port', '0'])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim()).toBe('understudy: --host 0.0.0.0: the sandbox Ollama server only listens on loopback (127.0.0.1, ::1 or localhost)')
  })
})
