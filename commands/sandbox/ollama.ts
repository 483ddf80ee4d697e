import {Flags} from '@oclif/core'
import {DEFAULT_MAX_BODY_BYTES, startOllamaServer} from '../../src/model/ollama-server.js'
import {BaseCommand} from '../../src/cli/base-command.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import {loadSkills} from '../../src/model/scripted/skill-modules.js'
import type {ModelClient} from '../../src/model/types.js'

export default class SandboxOllama extends BaseCommand {
  static override description =
    'Serve the built-in scripted model over the Ollama HTTP API (loopback only), so any Ollama client can talk to it.\n\n' +
    'Endpoints: GET / and /api/version, GET /api/tags, GET /api/ps, POST /api/show, POST /api/chat, POST /api/generate ' +
    '(stream and non-stream, load and unload forms, think, format). The `ollama run` CLI uses /api/show, /api/generate ' +
    '(to load, and for a one-shot prompt) and /api/chat (interactive); all are served. Not served: pull, push, create, ' +
    'copy, delete, embed. See docs/ollama.md.'

  static override examples = [
    '<%= config.bin %> sandbox ollama',
    '<%= config.bin %> sandbox ollama --port 11500 --model support-v2 --model support-v1 --skill scenarios/support-refunds/skill/index.ts',
    'curl http://127.0.0.1:11500/api/tags',
    'curl http://127.0.0.1:11500/api/chat -d \'{"model": "support-v2", "messages": [{"role": "user", "content": "hello"}], "stream": false}\'',
    'curl http://127.0.0.1:11500/api/generate -d \'{"model": "support-v2", "prompt": "hello", "stream": false}\'',
    'OLLAMA_HOST=127.0.0.1:11500 ollama run support-v2 hello',
  ]

  static override flags = {
    port: Flags.integer({description: 'port to listen on (0 picks a free one)', default: 11434, min: 0, max: 65535}),
    host: Flags.string({description: 'loopback address to listen on: 127.0.0.1, ::1 or localhost', default: '127.0.0.1'}),
    model: Flags.string({
      description: 'model name to serve (repeatable); each answers as the scripted model of that name',
      multiple: true,
      default: ['scripted'],
    }),
    seed: Flags.integer({description: 'seed for the scripted model', default: 0}),
    skill: Flags.string({description: 'skill module for the scripted model (repeatable, asked in order); none: the generic behaviour', multiple: true}),
    'think-budget': Flags.integer({
      description: 'play a thinking model that runs out of budget: every chat (unless think is false) answers empty content, its thinking, and done_reason "length"',
      min: 1,
    }),
    thinking: Flags.boolean({
      description: 'play a thinking model: capability "thinking"; unless a request sends think: false its answer carries message.thinking',
      default: false,
    }),
    'no-tools': Flags.boolean({description: 'play a model without tool support: /api/show lists no "tools", a chat with tools is HTTP 400', default: false}),
    'load-ms': Flags.integer({description: 'the first load of each model takes this many milliseconds (a cold start)', min: 0}),
    'max-request-bytes': Flags.integer({description: 'largest request body accepted; a larger one is answered HTTP 413', default: DEFAULT_MAX_BODY_BYTES, min: 1}),
  }

  async run(): Promise<{url: string; models: string[]; requests: number}> {
    const {flags} = await this.parse(SandboxOllama)
    const models = [...new Set(flags.model)]
    const skills = await loadSkills(flags.skill ?? [])
    const clients = new Map<string, ModelClient>(models.map((name) => [name, createScriptedModel({name, seed: flags.seed, skills})]))
    const server = await startOllamaServer({
      resolveModel: (name) => clients.get(name),
      models,
      host: flags.host,
      port: flags.port,
      faults: {thinkBudget: flags['think-budget'], thinks: flags.thinking, noTools: flags['no-tools'], loadMs: flags['load-ms']},
      maxBodyBytes: flags['max-request-bytes'],
    })
    this.out(`Ollama-protocol sandbox listening on ${server.url} (models: ${models.join(', ')})`)
    this.out(`point a client at it: OLLAMA_HOST=${server.url}; stop with Ctrl-C`)
    if (this.jsonEnabled()) this.err(`listening on ${server.url}`)

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const stop = (s: NodeJS.Signals): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve(s)
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
    await server.close()
    for (const client of clients.values()) await client.close?.()
    this.out(`stopped on ${signal} after ${server.stats.requests} requests`)
    return {url: server.url, models, requests: server.stats.requests}
  }
}
