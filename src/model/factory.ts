import type {ModelConfig} from '../bundle/schema.js'
import {ValidationError} from '../errors.js'
import {capAnswers} from './answer-cap.js'
import {recordingModel, replayingModel} from './cassette.js'
import {createOllamaModel, preflightOllama, resolveOllamaHost} from './ollama.js'
import type {OllamaPool} from './ollama-pool.js'
import {createReplayModel} from './recorded.js'
import {createScriptedModel} from './scripted.js'
import {loadSkills} from './scripted/skill-modules.js'
import {skillFor} from './scripted/skills.js'
import type {CassetteRedactor, ModelClient, ToolSpec} from './types.js'

/** Which model answers a run: `--model` on the command line, else the bundle's own model. */

export type ModelSpec = {provider: 'scripted' | 'ollama' | 'recorded' | 'compromised'; name: string | null}

const SPEC_HELP = 'use recorded, compromised, scripted, scripted:<name> or ollama:<name> (e.g. ollama:llama3.1:8b)'
const PROVIDERS = new Set(['scripted', 'ollama', 'recorded', 'compromised'])

/**
 * `recorded`, `compromised`, `scripted`, `scripted:<name>`, `ollama:<name>`; an Ollama name may
 * itself hold colons (`llama3.1:8b`).
 */
export function parseModelSpec(spec: string): ModelSpec {
  const text = spec.trim()
  const colon = text.indexOf(':')
  const provider = colon === -1 ? text : text.slice(0, colon)
  const name = colon === -1 ? null : text.slice(colon + 1).trim()
  if (!isProvider(provider)) {
    const what = text === '' ? 'an empty model spec' : `"${spec}" is not a model spec`
    throw new ValidationError([`--model: ${what}; ${SPEC_HELP}`])
  }
  if (name === '') throw new ValidationError([`--model "${spec}": the model name after "${provider}:" is empty; ${SPEC_HELP}`])
  if (provider === 'ollama' && name === null) {
    throw new ValidationError([`--model "${spec}": say which Ollama model, e.g. ollama:llama3.1:8b`])
  }
  if ((provider === 'recorded' || provider === 'compromised') && name !== null) {
    throw new ValidationError([`--model "${spec}": ${provider} replays production's own proposals and takes no model name; use --model ${provider}`])
  }
  return {provider, name}
}

function isProvider(p: string): p is ModelSpec['provider'] {
  return PROVIDERS.has(p)
}

/** Whether a spec replays production's proposals instead of asking a model. */
export function isModelFree(spec: string | null): boolean {
  if (spec === null) return false
  const p = parseModelSpec(spec).provider
  return p === 'recorded' || p === 'compromised'
}

/**
 * Whether a call to the model that `spec` (else the bundle's model) names costs something: a model
 * served by Ollama. The scripted model answers in microseconds from code that may change between
 * runs, and a model-free replay asks nothing, so neither is worth caching.
 */
export function callsCost(spec: string | null, bundleModel: ModelConfig): boolean {
  const provider = spec === null ? bundleModel.provider : parseModelSpec(spec).provider
  return provider === 'ollama'
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
  /** Several servers (`--ollama-host a,b,c`), shared by every client of the run; replaces ollamaHost. */
  ollamaPool?: OllamaPool
  /** Extra attempts after an Ollama 5xx (default 2). */
  ollamaRetries?: number
  /**
   * Skill modules for the scripted model (docs/scripted-model.md), in the order they are asked;
   * `generic` names the built-in domain-free behaviour. Other models ignore them.
   */
  skills?: readonly string[]
  /**
   * The tools the bundle offers. The scripted model refuses to start when none of its skills claims
   * them (unless `generic` is named): a model with no skill for a domain would make no tool call at
   * all and every difference of the bundle would go unseen.
   */
  tools?: readonly ToolSpec[]
}

/** The skill name that asks for the scripted model's domain-free behaviour (generic.ts) on purpose. */
export const GENERIC_SKILL = 'generic'

export async function createModel(opts: CreateModelOptions): Promise<ModelClient> {
  if (opts.recordCassette && opts.replayCassette) {
    throw new ValidationError(['--record-cassette and --replay-cassette cannot be used together: record once, then replay'])
  }
  const spec: ModelSpec = opts.spec === null ? {provider: opts.bundleModel.provider, name: opts.bundleModel.name} : parseModelSpec(opts.spec)

  if (spec.provider === 'recorded' || spec.provider === 'compromised') {
    // Nothing is asked of a model, so there is no exchange to record or replay.
    if (opts.recordCassette || opts.replayCassette) {
      throw new ValidationError([`--model ${spec.provider} asks no model: --record-cassette and --replay-cassette do not apply`])
    }
    // Its answers are production's, already held to the traffic reader's line limit.
    return createReplayModel(spec.provider)
  }
  // Every answer passes the bundle's size cap before anything sees it; a cassette records only
  // answers within it, and replays none beyond it.
  const cap = opts.bundleModel.max_answer_bytes
  // A replay answers from the file alone: no server, no model, works offline.
  if (opts.replayCassette) return capAnswers(await replayingModel(opts.replayCassette, {redactor: opts.redactor}), cap)

  const inner = capAnswers(await createInner(spec, opts), cap)
  return opts.recordCassette ? recordingModel(inner, opts.recordCassette, {redactor: opts.redactor}) : inner
}

async function createInner(spec: ModelSpec, opts: CreateModelOptions): Promise<ModelClient> {
  if (spec.provider === 'scripted') {
    const named = opts.skills ?? []
    const modules = named.filter((s) => s !== GENERIC_SKILL)
    const skills = modules.length > 0 ? await loadSkills(modules) : []
    if (opts.tools !== undefined && !named.includes(GENERIC_SKILL) && skillFor(skills, opts.tools) === undefined) {
      throw new ValidationError([noSkill(opts.tools, modules)])
    }
    return createScriptedModel({name: spec.name ?? opts.bundleModel.name, seed: opts.bundleModel.seed, skills: skills.length > 0 ? skills : undefined})
  }
  const name = spec.name ?? opts.bundleModel.name
  const {think, keep_alive: keepAlive} = opts.bundleModel
  // Tools unknown (undefined): assume the run offers some, as every bundle's agent loop does.
  const tools = opts.tools === undefined || opts.tools.length > 0
  const check = (on: string) => preflightOllama(on, name, Math.min(opts.bundleModel.timeout_ms, 10_000), {tools, think, keepAlive})
  const pool = opts.ollamaPool
  if (pool !== undefined) await pool.preflight(name, check)
  const host = pool === undefined ? resolveOllamaHost(opts.ollamaHost) : pool.hosts[0]!
  const listed = pool === undefined ? await check(host) : undefined
  return createOllamaModel({
    host,
    pool,
    model: name,
    serverName: listed,
    timeoutMs: opts.bundleModel.timeout_ms,
    retries: opts.ollamaRetries,
    maxAnswerBytes: opts.bundleModel.max_answer_bytes,
    think,
    keepAlive,
    describeConstraints: opts.bundleModel.describe_constraints,
  })
}

function noSkill(tools: readonly ToolSpec[], modules: readonly string[]): string {
  const names = tools.map((t) => t.function.name)
  const shown = names.length > 6 ? `${names.slice(0, 6).join(', ')} and ${names.length - 6} more` : names.join(', ')
  const asked = modules.length === 0 ? 'no skill module was named' : `no skill of ${modules.join(', ')} claims them`
  return (
    `the scripted model has no skill for this bundle's tools (${shown}): ${asked}; replay production's own proposals with ` +
    `--model recorded, use a real model with --model ollama:<name>, or name a skill module with --skill (--skill ${GENERIC_SKILL} for the domain-free behaviour)`
  )
}
