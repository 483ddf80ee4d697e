import {readFileSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ShadowStopped, resumeShadow, startShadow} from '../../src/shadow/run.js'
import {openStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {isPreflight, preflight} from '../helpers/ollama-preflight.js'

/**
 * An Ollama server that answers something other than a chat response. Each kind of garbage must
 * stop the run at once with one line naming the server and the problem, leave the run
 * `interrupted` with nothing wrong stored, and let `--resume` finish it once the server is fixed.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const v2 = path.join(scenario, 'v2')

type Answer = (res: http.ServerResponse) => void

const json = (body: string): Answer => (res) => {
  res.writeHead(200, {'content-type': 'application/json; charset=utf-8'})
  res.end(body)
}

const GARBAGE: [string, Answer, RegExp][] = [
  ['cut-off JSON', json('{"model":"garbage","message":{"role":"assistant","content":"Your refund'), /the body is not JSON/],
  [
    'a body cut off mid-way (the connection closes)',
    (res) => {
      res.writeHead(200, {'content-type': 'application/json', 'content-length': '400'})
      res.write('{"model":"garbage","message":{"role":"assistant",')
      setTimeout(() => res.socket?.destroy(), 20)
    },
    /the answer was cut off after 49 bytes \(the connection closed before the body ended\)/,
  ],
  [
    'an HTML body',
    (res) => {
      res.writeHead(200, {'content-type': 'text/html'})
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>')
    },
    /the body is text\/html, not JSON/,
  ],
  ['no "done"', json('{"model":"garbage","message":{"role":"assistant","content":"hello"}}'), /expected one JSON object with "done": true, got an object/],
  [
    'tool-call arguments that are not an object',
    json('{"model":"garbage","done":true,"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"lookup_order","arguments":[1,2]}}]}}'),
    /"message\.tool_calls\[0\]\.function\.arguments" is an array, not an object/,
  ],
  [
    'a negative token count',
    json('{"model":"garbage","done":true,"message":{"role":"assistant","content":"hi"},"prompt_eval_count":-5,"eval_count":3}'),
    /"prompt_eval_count" is number -5, not a count/,
  ],
]

const GOOD: Answer = json('{"model":"garbage","done":true,"done_reason":"stop","message":{"role":"assistant","content":"Done."},"prompt_eval_count":10,"eval_count":2}')

let server: http.Server
let host: string
let answer: Answer
let chats = 0
let dir: string
let traffic: string

beforeEach(async () => {
  chats = 0
  server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (d: string) => (body += d))
    req.on('end', () => {
      if (req.url === '/api/tags') return json('{"models":[{"name":"garbage:latest","model":"garbage:latest"}]}')(res)
      if (isPreflight(req.url, body)) return preflight(req.url!, 'garbage:latest', res)
      chats++
      answer(res)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  dir = tempDir('understudy-garbage-')
  traffic = path.join(dir, 'traffic.jsonl')
  writeFileSync(traffic, readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n')
})
afterEach(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
  removeTempDirs()
})

describe('an Ollama answer that is not a chat response stops the run', () => {
  it.each(GARBAGE)('%s', async (_kind, garbage, problem) => {
    answer = garbage
    const store = openStore(path.join(dir, 'u.db'))
    try {
      const error = await startShadow({traffic, candidate: v2, model: 'ollama:garbage', ollama_host: host, concurrency: 2}, store).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ShadowStopped)
      const message = (error as Error).message
      expect(message).toMatch(new RegExp(`^Ollama at ${host.replace(/[.:/]/g, '\\$&')} answered something that is not a chat response: `))
      expect(message).toMatch(problem)
      expect(message).not.toMatch(/cannot reach|ollama serve/)
      expect(message.split('\n')).toHaveLength(1)
      // Stopped at once: no request is recorded as failed by the server's fault.
      const [run] = store.listRuns()
      expect(message).toMatch(new RegExp(`; run ${run!.id} interrupted$`))
      expect(run!.status).toBe('interrupted')
      expect([...store.iterateTraces(run!.id, {side: 'candidate'})].filter((t) => t.status === 'failed')).toEqual([])
      expect(chats).toBeLessThanOrEqual(2)

      // The server fixed, the same run finishes: every request replayed once, none failed.
      answer = GOOD
      const resumed = await resumeShadow(run!.id, store)
      expect(resumed.run.status).toBe('completed')
      const cand = [...store.iterateTraces(run!.id, {side: 'candidate'})]
      expect(cand).toHaveLength(6)
      expect(cand.every((t) => t.status === 'completed')).toBe(true)
    } finally {
      store.close()
    }
  })

  it('through the CLI: exit 1, one line naming the server and the problem, and the --resume command', async () => {
    answer = GARBAGE[1]![1]
    const db = path.join(dir, 'u.db')
    const r = await runCli(['shadow', traffic, '--candidate', v2, '--model', 'ollama:garbage', '--ollama-host', host, '--db', db], {cwd: dir})
    expect(r.code).toBe(1)
    const store = openStore(db)
    const [run] = store.listRuns()
    store.close()
    expect(run!.status).toBe('interrupted')
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('understudy:'))
    expect(lines).toEqual([
      `understudy: Ollama at ${host} answered something that is not a chat response: the answer was cut off after 49 bytes (the connection closed before the body ended); run ${run!.id} interrupted; resume with: understudy shadow --resume ${run!.id} --db ${db}`,
    ])
  })
})
