import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {ModelError} from '../../src/errors.js'
import {OllamaPool, parseOllamaHosts} from '../../src/model/ollama-pool.js'
import {startOllamaServer, type OllamaServer} from '../../src/model/ollama-server.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import {startShadow} from '../../src/shadow/run.js'
import {renderShadowSummary, shadowSummary} from '../../src/shadow/summary.js'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot} from '../helpers/cli.js'

/** A call that stays in flight until released. */
function held(): {promise: Promise<string>; release: () => void} {
  let release!: () => void
  const promise = new Promise<string>((resolve) => (release = () => resolve('ok')))
  return {promise, release}
}

const down = () => new ModelError('unreachable', 'cannot reach (test)')

describe('OllamaPool', () => {
  it('parses a,b,c into normalized servers, one server as no pool', () => {
    expect(parseOllamaHosts('a:1, b:2 ,:3')).toEqual(['http://a:1', 'http://b:2', 'http://127.0.0.1:3'])
    expect(parseOllamaHosts('a:1')).toBeNull()
    expect(() => parseOllamaHosts('a:1,,b:2')).toThrow('an empty server in the list')
    expect(() => parseOllamaHosts('a:1,http://a:1')).toThrow('http://a:1 is named twice')
  })

  it('sends each call to the server with the fewest calls in flight', async () => {
    const pool = new OllamaPool(['a', 'b', 'c'])
    const on: string[] = []
    const calls = [held(), held(), held(), held()]
    const onHost = (h: {promise: Promise<string>}) => (host: string) => {
      on.push(host)
      return h.promise
    }
    const running = calls.slice(0, 3).map((h) => pool.run(onHost(h)))
    expect(on).toEqual(['a', 'b', 'c'])
    calls[1]!.release()
    await running[1]
    // b has nothing in flight now: it takes the next call.
    const fourth = pool.run(onHost(calls[3]!))
    expect(on[3]).toBe('b')
    for (const h of calls) h.release()
    await Promise.all([...running, fourth])
    expect(pool.stats().map((s) => s.calls)).toEqual([1, 2, 1])
  })

  it('takes a failing server out, retries its call on another, and probes it again later', async () => {
    let now = 0
    const pool = new OllamaPool(['a', 'b'], {probeAfterMs: 1000, now: () => now})
    let aWorks = false
    const call = (host: string) => (host === 'a' && !aWorks ? Promise.reject(down()) : Promise.resolve(host))
    expect(await pool.run(call)).toBe('b')
    expect(pool.stats()).toEqual([
      {host: 'a', calls: 0, failed: 1, down: true},
      {host: 'b', calls: 1, failed: 0, down: false},
    ])
    // Out of rotation: not asked again before its probe is due.
    expect(await pool.run(call)).toBe('b')
    expect(pool.stats()[0]!.failed).toBe(1)
    now = 1000
    aWorks = true
    expect(await pool.run(call)).toBe('a')
    expect(pool.stats()[0]).toEqual({host: 'a', calls: 1, failed: 1, down: false})
    // An error of the answer, not the server, is not retried elsewhere.
    await expect(pool.run(() => Promise.reject(new ModelError('too_large', 'big')))).rejects.toThrow('big')
    // Every server failing fails the call with the last error.
    await expect(pool.run(() => Promise.reject(down()))).rejects.toThrow('cannot reach (test)')
  })
})

describe('shadow over several Ollama-protocol servers', () => {
  const servers: OllamaServer[] = []
  let dir: string | undefined
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close().catch(() => {})
    if (dir !== undefined) rmSync(dir, {recursive: true, force: true})
  })

  it('spreads the calls, survives a failing and a closed server, and reports calls per server', async () => {
    // A domain the pool never saw: retail orders, with the scripted model's domain-free behaviour.
    const scenario = path.join(repoRoot, 'scenarios', 'retail-orders')
    // The third server passes the checks before the run, then answers every chat with HTTP 500.
    const failing500: {delayMs: number; status500?: boolean} = {delayMs: 5}
    const serve = (faults = {delayMs: 5}) => startOllamaServer({resolveModel: (name) => createScriptedModel({name, seed: 0}), models: ['retail-agent'], faults})
    for (const s of await Promise.all([serve(), serve(), serve(failing500), serve()])) servers.push(s)
    const closed = servers.pop()!
    await closed.close()
    const hosts = [...servers.map((s) => s.url), closed.url]
    dir = mkdtempSync(path.join(tmpdir(), 'understudy-pool-'))
    const store = openStore(path.join(dir, 'u.db'))
    try {
      const result = await startShadow(
        {traffic: path.join(scenario, 'traffic.jsonl'), candidate: path.join(scenario, 'v1'), fixtures: path.join(scenario, 'fixtures.yaml'), model: 'ollama:retail-agent', ollama_host: hosts.join(','), concurrency: 6, limit: 16},
        store,
        {onRunCreated: () => (failing500.status500 = true)},
      )
      expect(result.run.status).toBe('completed')
      // Its calls were retried elsewhere: no request failed for it.
      expect([...store.iterateTraces(result.run.id, {side: 'candidate'})].filter((t) => t.error !== undefined && t.error !== null)).toEqual([])
      const [a, b, failing, gone] = result.servers
      expect(result.servers.map((s) => s.host)).toEqual(hosts)
      // Both healthy servers took a fair share; the failing one answered nothing and is out.
      const total = a!.calls + b!.calls
      expect(total).toBeGreaterThanOrEqual(16)
      expect(Math.min(a!.calls, b!.calls)).toBeGreaterThan(total / 4)
      expect(failing).toMatchObject({calls: 0, down: true})
      expect(failing!.failed).toBeGreaterThan(0)
      expect(gone).toMatchObject({calls: 0, down: true})
      expect(servers[0]!.stats.requests + servers[1]!.stats.requests).toBeGreaterThanOrEqual(total)
      const summary = await shadowSummary(store, result, path.join(dir, 'u.db'))
      expect(summary.servers).toEqual(result.servers)
      expect(renderShadowSummary(summary)).toContain(`model servers: ${a!.host} ${a!.calls} calls, ${b!.host} ${b!.calls} calls, ${failing!.host} 0 calls (${failing!.failed} failed, out of rotation)`)
    } finally {
      store.close()
    }
  })
})
