import {ModelError} from '../errors.js'
import {genericRespond} from './scripted/generic.js'
import {catalogOf} from './tool-catalog.js'
import {toolCallsJson} from './tool-calls-json.js'
import {type ScriptedSkill, skillFor} from './scripted/skills.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ModelToolCall, ToolSpec} from './types.js'

/**
 * The default model: deterministic and rule-based (docs/scripted-model.md). This is the engine: it
 * picks the registered skill that claims the offered tools (else the generic behaviour), and
 * accounts tokens, latency and length limits the same way for all of them. It decides from the
 * ChatRequest alone — messages, offered tools and options — so the Ollama-protocol sandbox server
 * can serve it and a replay never needs a model server.
 */
export type ScriptedModelOptions = {
  name: string
  seed: number
  /** Asked in order; the first that claims a request's tools answers it. */
  skills?: readonly ScriptedSkill[]
}

/** Simulated latency: a fixed overhead plus a per-output-token cost. Reported, never slept. */
export const LATENCY_BASE_MS = 200
export const LATENCY_PER_OUTPUT_TOKEN_MS = 8

export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4)
}

const NO_TOOLS: readonly ToolSpec[] = []
const NO_SKILLS: readonly ScriptedSkill[] = []
const toolsChars = new WeakMap<readonly ToolSpec[], number>()

/** Characters of the tool specs as sent; cached per array because a run reuses one array. */
function toolSpecChars(tools: readonly ToolSpec[]): number {
  let n = toolsChars.get(tools)
  if (n === undefined) {
    n = tools.length === 0 ? 0 : JSON.stringify(tools).length
    toolsChars.set(tools, n)
  }
  return n
}

function messageChars(messages: readonly ChatMessage[]): number {
  let n = 0
  for (const m of messages) {
    n += m.content.length
    if (m.role === 'assistant' && m.tool_calls && m.tool_calls.length > 0) n += toolCallsJson(m.tool_calls).length
  }
  return n
}

/** The model's answer to one request, computed synchronously (the client wraps it in a promise). */
export function scriptedRespond(request: ChatRequest, defaultSeed: number, skills: readonly ScriptedSkill[] = NO_SKILLS): ChatResponse {
  const tools = Array.isArray(request.tools) ? request.tools : NO_TOOLS
  const temperature = typeof request.options?.temperature === 'number' ? request.options.temperature : 0
  const seed = typeof request.options?.seed === 'number' ? request.options.seed : defaultSeed
  // A call that offers no tools but carries the tool catalog (plan_first's planning call): the
  // model knows its tools from the catalog, as a real model would.
  const known = tools.length > 0 ? tools : (catalogOf(request.messages) ?? tools)
  const asked: ChatRequest = known === tools ? request : Object.assign({}, request, {tools: [...known]})
  const skill = skillFor(skills, known)
  const answer = skill ? skill.respond(asked, {seed, temperature}) : genericRespond(asked, known)
  let content = answer.content
  const toolCalls: ModelToolCall[] = answer.tool_calls

  let doneReason = 'stop'
  const limit = request.options?.num_predict
  if (toolCalls.length === 0 && typeof limit === 'number' && limit > 0 && estimateTokens(content.length) > limit) {
    content = content.slice(0, limit * 4)
    doneReason = 'length'
  }
  const outputChars = content.length + (toolCalls.length > 0 ? toolCallsJson(toolCalls).length : 0)
  const outputTokens = estimateTokens(outputChars)
  return {
    message: {role: 'assistant', content, tool_calls: toolCalls},
    input_tokens: estimateTokens(messageChars(request.messages) + toolSpecChars(tools)),
    output_tokens: outputTokens,
    latency_ms: LATENCY_BASE_MS + LATENCY_PER_OUTPUT_TOKEN_MS * outputTokens,
    done_reason: doneReason,
  }
}

export function createScriptedModel(opts: ScriptedModelOptions): ModelClient {
  const skills = opts.skills ?? NO_SKILLS
  return {
    id: `scripted:${opts.name}`,
    async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
      if (signal?.aborted) throw new ModelError('timeout', `scripted:${opts.name}: the call was aborted`)
      if (!Array.isArray(request.messages) || request.messages.length === 0) {
        throw new ModelError('malformed', `scripted:${opts.name}: the request has no messages`)
      }
      return scriptedRespond(request, opts.seed, skills)
    },
  }
}
