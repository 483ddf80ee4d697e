import type {ModelConfig} from '../bundle/schema.js'
import {ValidationError} from '../errors.js'
import {recordingModel, replayingModel} from './cassette.js'
import {createOllamaModel, preflightOllama, resolveOllamaHost} from './ollama.js'
import {createScriptedModel} from './scripted.js'
import {loadSkills} from './scripted/skill-modules.js'
import type {CassetteRedactor, ModelClient} from './types.js'

/** Which model answers a run: `--model` on the command line, else the bundle's own model. */

export type ModelSpec = {provider: 'scripted' | 'ollama'; name: string | null}

const SPEC_HELP = 'use scripted, scripted:<name> or ollama:<name> (e.g. ollama:llama3.1:8b)'

/** `scripted`, `scripted:<name>`, `ollama:<name>`; the name may itself hold colons (`llama3.1:8b`). */
export function parseModelSpec(spec: string): ModelSpec {
  const text = spec.trim()
  const colon = text.indexOf(':')
  const provider = colon === -1 ? text : text.slice(0, colon)
  const name = colon === -1 ? null : text.slice(colon + 1).trim()
  if (provider !== 'scripted' && provider !== 'ollama') {
    const what = text === '' ? 'an empty model spec' : `"${spec}" is not a model spec`
    throw new ValidationError([`--model: ${what}; ${SPEC_HELP}`])
  }
  if (name === '') throw new ValidationError([`--model "${spec}": the model name after "${provider}:" is empty; ${SPEC_HELP}`])
  if (provider === 'ollama' && name === null) {
    throw new ValidationError([`--model "${spec}": say which Ollama model, e.g. ollama:llama3.1:8b`])
  }
  return {provider, name}
}

/** A cassette, recorded or replayed, needs the redactor: no cassette is written in the clear. */
type CassetteChoice =
  | {recordCassette?: undefined; replayCassette?: undefined; redactor?: CassetteRedactor}
  | {recordCassette?: string; replayCassette?: string; redactor: CassetteRedactor}

export type CreateModelOptions = CassetteChoice & {
  /** null: the bundle's own model config. */
  spec: string | null
  bundleModel: ModelConfig
  ollamaHost?: string
  /** Extra attempts after an Ollama 5xx (default 2). */
  ollamaRetries?: number
  /**
   * Skill modules for the scripted model (docs/scripted-model.md), in the order they are asked;
   * none: the generic behaviour answers every request. Other models ignore them.
   */
  skills?: readonly string[]
}

export async function createModel(opts: CreateModelOptions): Promise<ModelClient> {
  if (opts.recordCassette && opts.replayCassette) {
    throw new ValidationError(['--record-cassette and --replay-cassette cannot be used together: record once, then replay'])
  }
  const spec: ModelSpec = opts.spec === null ? {provider: opts.bundleModel.provider, name: opts.bundleModel.name} : parseModelSpec(opts.spec)

  // A replay answers from the file alone: no server, no model, works offline.
  if (opts.replayCassette) return replayingModel(opts.replayCassette, {redactor: opts.redactor})

  const inner = await createInner(spec, opts)
  return opts.recordCassette ? recordingModel(inner, opts.recordCassette, {redactor: opts.redactor}) : inner
}

async function createInner(spec: ModelSpec, opts: CreateModelOptions): Promise<ModelClient> {
  if (spec.provider === 'scripted') {
    const skills = opts.skills && opts.skills.length > 0 ? await loadSkills(opts.skills) : undefined
    return createScriptedModel({name: spec.name ?? opts.bundleModel.name, seed: opts.bundleModel.seed, skills})
  }
  const name = spec.name ?? opts.bundleModel.name
  const host = resolveOllamaHost(opts.ollamaHost)
  await preflightOllama(host, name, Math.min(opts.bundleModel.timeout_ms, 10_000))
  return createOllamaModel({host, model: name, timeoutMs: opts.bundleModel.timeout_ms, retries: opts.ollamaRetries})
}
