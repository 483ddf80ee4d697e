import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import YAML from 'yaml'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {loadCassette} from '../../src/model/cassette.js'
import {startShadow} from '../../src/shadow/run.js'
import {openStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot} from '../helpers/cli.js'
import {isPreflight, preflight} from '../helpers/ollama-preflight.js'

/**
 * A model answer has a size cap, model.max_answer_bytes (default 1 MiB): an answer over it fails
 * its own request with one clear line and is stored nowhere (trace, cassette); the run goes on.
 * The cap is a new bundle setting: a bundle that does not set it keeps its hash.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')

afterEach(() => removeTempDirs())

/** A copy of support-refunds v2 with `model` settings changed. */
function v2With(model: Record<string, unknown>): string {
  const dir = path.join(tempDir('understudy-cap-bundle-'), 'v2')
  cpSync(path.join(scenario, 'v2'), dir, {recursive: true})
  const file = path.join(dir, 'bundle.yaml')
  const doc = YAML.parse(readFileSync(file, 'utf8')) as {model: Record<string, unknown>}
  Object.assign(doc.model, model)
  writeFileSync(file, YAML.stringify(doc))
  return dir
}

describe('model.max_answer_bytes and the bundle hash', () => {
  it('leaves the hash of every shipped bundle as it was', async () => {
    // Recomputed once for #16 (tool schemas moved to standard JSON Schema keys); with those keys
    // renamed back to max_length / min_length / additional_properties / max_items, the canonical form
    // hashes to the refs pinned before, so the migration is the only change.
    const shipped: [string, string][] = [
      ['coding-agent/v1', 'coding-agent@1.2.0#f1aa864a2201'],
      ['coding-agent/v2', 'coding-agent@2.0.0#6657e69daa96'],
      ['enterprise-tickets/v1', 'enterprise-tickets@1.6.0#ad41e089b29b'],
      ['enterprise-tickets/v2', 'enterprise-tickets@2.0.0#0364cbe4b5f6'],
      ['support-refunds/v1', 'support-refunds@1.4.0#f876ebd1e904'],
      ['support-refunds/v2', 'support-refunds@2.0.0#99ff0d7c8024'],
    ]
    for (const [dir, ref] of shipped) expect((await loadBundle(path.join(repoRoot, 'scenarios', dir))).ref).toBe(ref)
  })

  it('the default written out is the same bundle; any other value is another', async () => {
    const base = await loadBundle(path.join(scenario, 'v2'))
    expect(base.manifest.model.max_answer_bytes).toBe(1024 * 1024)
    expect((await loadBundle(v2With({max_answer_bytes: 1024 * 1024}))).hash).toBe(base.hash)
    expect((await loadBundle(v2With({max_answer_bytes: 2048}))).hash).not.toBe(base.hash)
  })

  it('refuses a cap that is not a positive whole number of bytes, naming the field', async () => {
    await expect(loadBundle(v2With({max_answer_bytes: 0}))).rejects.toThrow(/bundle\.yaml:\d+:\d+: model\.max_answer_bytes: /)
  })
})

describe('an answer over the cap', () => {
  type Answer = (res: http.ServerResponse) => void
  const chat = (content: string): Answer => (res) => {
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(JSON.stringify({model: 'big', done: true, message: {role: 'assistant', content}, prompt_eval_count: 5, eval_count: 5}))
  }
  let server: http.Server
  let host: string
  /** The first chat gets this answer, every later one a short one. */
  let first: Answer
  let chats = 0

  beforeEach(async () => {
    chats = 0
    server = http.createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8').on('data', (d: string) => (body += d))
      req.on('end', () => {
        if (req.url === '/api/tags') {
          res.writeHead(200, {'content-type': 'application/json'})
          return res.end('{"models":[{"name":"big:latest"}]}')
        }
        if (isPreflight(req.url, body)) return preflight(req.url!, 'big:latest', res)
        chats++
        ;(chats === 1 ? first : chat('Done.'))(res)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterEach(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  async function replay(candidate: string, extra: Record<string, unknown> = {}) {
    const dir = tempDir('understudy-cap-')
    const traffic = path.join(dir, 'traffic.jsonl')
    writeFileSync(traffic, readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, 4).join('\n') + '\n')
    const store = openStore(path.join(dir, 'u.db'))
    try {
      const result = await startShadow({traffic, candidate, model: 'ollama:big', ollama_host: host, concurrency: 1, ...extra}, store)
      return {result, dir, traces: [...store.iterateTraces(result.run.id, {side: 'candidate'})]}
    } finally {
      store.close()
    }
  }

  it('fails that request with one line, stores none of it, and the run goes on', async () => {
    first = chat('x'.repeat(5000))
    const dir = tempDir('understudy-cap-')
    const cassette = path.join(dir, 'c.jsonl')
    const {result, traces} = await replay(v2With({max_answer_bytes: 1000}), {record_cassette: cassette})
    expect(result.run.status).toBe('completed')
    expect(traces.map((t) => t.status)).toEqual(['failed', 'completed', 'completed', 'completed'])
    expect(traces[0]!.error).toBe(
      'the answer of ollama:big is 5000 bytes, over model.max_answer_bytes (1000); the request fails and the answer is not stored (raise model.max_answer_bytes in the bundle to accept it)',
    )
    expect(JSON.stringify(traces)).not.toContain('x'.repeat(1001))
    const recorded = loadCassette(cassette)
    expect(recorded.length).toBeGreaterThan(0)
    expect(recorded.every((e) => e.response.message.content.length <= 1000)).toBe(true)
  })

  it('stops reading a body that cannot hold an answer within the cap (with or without a length)', async () => {
    const huge = JSON.stringify({model: 'big', done: true, message: {role: 'assistant', content: 'y'.repeat(200_000)}})
    for (const withLength of [true, false]) {
      chats = 0
      first = (res) => {
        res.writeHead(200, {'content-type': 'application/json', ...(withLength ? {'content-length': String(Buffer.byteLength(huge))} : {})})
        res.end(huge)
      }
      const {result, traces} = await replay(v2With({max_answer_bytes: 1000}))
      expect(result.run.status).toBe('completed')
      expect(traces.map((t) => t.status)).toEqual(['failed', 'completed', 'completed', 'completed'])
      expect(traces[0]!.error).toMatch(new RegExp(`^Ollama at ${host.replace(/[.:/]/g, '\\$&')} sent an answer larger than this request accepts \\(model\\.max_answer_bytes 1000\\): the response body is over 71536 bytes; stopped reading it$`))
    }
  })

  it('accepts the same answer under the default cap', async () => {
    first = chat('x'.repeat(5000))
    const {traces} = await replay(path.join(scenario, 'v2'))
    expect(traces.map((t) => t.status)).toEqual(['completed', 'completed', 'completed', 'completed'])
    expect(traces[0]!.final_answer).toBe('x'.repeat(5000))
  })
})
