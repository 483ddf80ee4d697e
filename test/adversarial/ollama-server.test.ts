import {afterEach, describe, expect, it} from 'vitest'
import type {ToolSpec} from '../../src/model/types.js'
import {killSandboxes, type SpawnedSandbox, spawnSandboxOllama} from '../helpers/sandbox-ollama.js'

// Adversarial: the Ollama-protocol sandbox under hostile requests. One chat whose user message was
// a single long word froze the whole server (200 KB: 28 s for every client; 15 MB: more than ten
// minutes at full CPU, deaf to SIGTERM). It must cap what it reads, answer hostile text in linear
// time, keep answering other clients, and stop when told.

afterEach(killSandboxes)

/** Serves model `generic` (no skill) and `skilled` (the support skill) from one process each. */
function serve(model: 'generic' | 'skilled', extra: string[] = []): Promise<SpawnedSandbox> {
  const skill = model === 'skilled' ? ['--skill', 'scenarios/support-refunds/skill/index.ts'] : []
  return spawnSandboxOllama(['--model', model, ...skill, ...extra])
}

const tool = (name: string, properties: Record<string, {type: string}>): ToolSpec => ({type: 'function', function: {name, description: name, parameters: {type: 'object', properties}}})
/** Tools that put the generic model and the support skill on their text-reading paths (addresses, amounts, order ids). */
const TOOLS: ToolSpec[] = [
  tool('send_email', {to: {type: 'string'}, body: {type: 'string'}}),
  tool('lookup_order', {order_id: {type: 'string'}}),
  tool('issue_refund', {order_id: {type: 'string'}, amount: {type: 'number'}, reason: {type: 'string'}}),
  tool('search_kb', {query: {type: 'string'}}),
]

/** Every answer is due within this; a server stuck on a request fails the test here. */
const DEADLINE_MS = 10_000

function chat(url: string, model: string, content: string, tools: ToolSpec[] = TOOLS): Promise<Response> {
  return fetch(`${url}/api/chat`, {
    method: 'POST',
    signal: AbortSignal.timeout(DEADLINE_MS),
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({model, stream: false, tools, messages: [{role: 'system', content: 'You are a support agent.'}, {role: 'user', content}]}),
  })
}

async function timed<T>(work: Promise<T>): Promise<{value: T; ms: number}> {
  const t0 = performance.now()
  const value = await work
  return {value, ms: performance.now() - t0}
}

describe('sandbox ollama under hostile requests', () => {
  it('answers a request over the limit with 413 and an Ollama-style error, by content-length and while streaming', async () => {
    const {url} = await serve('generic', ['--max-request-bytes', String(64 * 1024)])
    const big = await chat(url, 'generic', 'a'.repeat(100 * 1024))
    expect(big.status).toBe(413)
    expect(await big.json()).toEqual({error: expect.stringMatching(/request body is larger than this server's limit of 65536 bytes/)})

    // No content-length: the limit is counted as the body arrives.
    const chunks = [Buffer.from('{"model":"generic","messages":[{"role":"user","content":"'), Buffer.alloc(100 * 1024, 'a'), Buffer.from('"}]}')]
    const streamed = await fetch(`${url}/api/chat`, {
      method: 'POST',
      signal: AbortSignal.timeout(DEADLINE_MS),
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift()
          if (next) controller.enqueue(next)
          else controller.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    expect(streamed.status).toBe(413)
    expect(((await streamed.json()) as {error: string}).error).toMatch(/larger than this server's limit/)

    // And the server still answers.
    expect((await chat(url, 'generic', 'hello')).status).toBe(200)
  }, 30_000)

  it('refuses a 15 MB request by default (8 MiB limit)', async () => {
    const {url} = await serve('skilled')
    const r = await chat(url, 'skilled', 'a'.repeat(15 * 1024 * 1024))
    expect(r.status).toBe(413)
    expect(((await r.json()) as {error: string}).error).toMatch(/limit of 8388608 bytes/)
  }, 30_000)

  const HOSTILE: [string, string][] = [
    ['one 200 KB word', 'a'.repeat(200_000)],
    ['200 KB of digits', '1'.repeat(200_000)],
    ['200 KB of address characters', 'a.b-c_d+'.repeat(25_000)],
    ['200 KB of newlines', '\n'.repeat(200_000)],
    ['a 6 MB word, under the limit', 'x'.repeat(6_000_000)],
  ]
  for (const model of ['generic', 'skilled'] as const) {
    it(`${model} model: answers hostile text promptly, and a normal request right after it`, async () => {
      const {url} = await serve(model)
      for (const [name, text] of HOSTILE) {
        const hostile = timed(chat(url, model, `send_email ${text}`))
        const normal = timed(chat(url, model, 'Where is my order ORD-123456?'))
        const h = await hostile
        expect(h.value.status, name).toBe(200)
        const n = await normal
        expect(n.value.status, name).toBe(200)
        expect(((await n.value.json()) as {done: boolean}).done).toBe(true)
        // Linear work on this much text is milliseconds; the bound leaves room for a loaded machine.
        expect(h.ms, name).toBeLessThan(3_000)
        expect(n.ms, name).toBeLessThan(3_000)
      }
    }, 60_000)
  }

  it('stops on SIGTERM within a couple of seconds, even while answering a hostile request', async () => {
    const {url, proc, exited} = await serve('skilled')
    const hostile = chat(url, 'skilled', 'a'.repeat(1_000_000)).catch(() => null)
    await new Promise((r) => setTimeout(r, 100))
    const t0 = performance.now()
    proc.kill('SIGTERM')
    const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 5_000))])
    expect(code).toBe(0)
    expect(performance.now() - t0).toBeLessThan(3_000)
    await hostile
  }, 30_000)
})
