import {afterEach, describe, expect, it} from 'vitest'
import SandboxOllama from '../../commands/sandbox/ollama.js'
import {startOllamaServer, type OllamaServer} from '../../src/model/ollama-server.js'
import {createScriptedModel} from '../../src/model/scripted.js'

// `understudy sandbox ollama --help` shows curl lines; each must work against the sandbox as shown.
describe('sandbox ollama --help examples', () => {
  let server: OllamaServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('every curl example answers 200 from a sandbox serving the example model', async () => {
    server = await startOllamaServer({models: ['support-v2'], resolveModel: (name) => createScriptedModel({name, seed: 0})})
    const curls = (SandboxOllama.examples as string[]).filter((e) => e.startsWith('curl '))
    expect(curls.length).toBeGreaterThanOrEqual(3)
    for (const line of curls) {
      const m = /^curl http:\/\/127\.0\.0\.1:\d+(\/\S+)(?: -d '(.*)')?$/.exec(line)
      expect(m, line).not.toBeNull()
      const body = m![2]
      const res = await fetch(`${server.url}${m![1]}`, body === undefined ? {} : {method: 'POST', body})
      expect(res.status, line).toBe(200)
      const answer = (await res.json()) as {done?: boolean; models?: unknown[]}
      expect(answer.done === true || Array.isArray(answer.models), line).toBe(true)
    }
  })
})
