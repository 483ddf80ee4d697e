import type {DivergenceReason, ToolCallOutcome} from '../trace/schema.js'
import type {TrafficRecord} from '../traffic/schema.js'

/**
 * The model boundary. Shapes follow Ollama's /api/chat so that the scripted model, the cassette
 * and the real `ollama` client are interchangeable, and so the scripted model can be served over
 * the Ollama wire protocol by the sandbox server: it decides from the messages alone, never from
 * anything the runtime could not also send to a real model.
 */

export type ModelToolCall = {
  name: string
  arguments: Record<string, unknown>
}

export type ChatMessage =
  | {role: 'system' | 'user'; content: string}
  | {role: 'assistant'; content: string; tool_calls?: ModelToolCall[]}
  | {role: 'tool'; content: string; tool_name: string}

/** A tool offered to the model, in Ollama's (OpenAI-style) function format. */
export type ToolSpec = {
  type: 'function'
  function: {
    name: string
    description: string
    parameters: Record<string, unknown>
  }
}

export type ChatRequest = {
  model: string
  messages: ChatMessage[]
  tools: ToolSpec[]
  /**
   * Ollama's `format`: the answer must be JSON (`"json"`) or JSON matching this schema. Absent: free
   * text. It changes the answer, so it is part of the cassette key.
   */
  format?: 'json' | Record<string, unknown>
  /** Ollama's `think` (model.think). Absent: the model's default. It changes the answer: in the cassette key. */
  think?: boolean | 'low' | 'medium' | 'high'
  options: {
    temperature: number
    seed: number
    num_predict: number
    [key: string]: unknown
  }
}

export type ChatResponse = {
  message: {role: 'assistant'; content: string; tool_calls: ModelToolCall[]}
  input_tokens: number
  output_tokens: number
  /** Wall time of the call as the client saw it. */
  latency_ms: number
  done_reason: string
  /**
   * A thinking model's reasoning (Ollama's `message.thinking`), apart from the answer; absent when
   * the model did not think. Its tokens are inside output_tokens: Ollama reports no separate count.
   */
  thinking?: string
}

export interface ModelClient {
  /** e.g. `scripted:support-v2`, `ollama:llama3.1:8b`, `cassette:replay`, `recorded`. */
  readonly id: string
  chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse>
  close?(): Promise<void>
  /**
   * Model-free replay only: the model for one request, which replays that request's recording.
   * The runtime asks for it once per request and side; every other model answers from messages alone.
   */
  forRequest?(record: TrafficRecord, options: {planFirst: boolean}): TrajectoryModel
}

/** What became of a call the model proposed, once the candidate judged (and maybe ran) it. */
export type CallObservation = {
  outcome: ToolCallOutcome
  /** The refusal's reason code (a policy reason, SCHEMA_INVALID, NOT_IN_PLAN), or the tool's error code. */
  code: string | null
}

/** A model replaying one request's recorded trajectory. */
export interface TrajectoryModel extends ModelClient {
  /** Whether its answers depend on the messages it is sent; when not, the runtime sends (and builds) none. */
  readonly readsMessages: boolean
  /** The attack (its id) whose goal a proposed call is, for a call an injection asked for. */
  attackOf(call: ModelToolCall): string | undefined
  /** Called after every proposed call: null while the recording still applies, else why it stopped applying. */
  observe(call: ModelToolCall, seen: CallObservation): Departure | null
}

/** Why a replayed call left the recording, and what production had done with it. */
export type Departure = {reason: DivergenceReason; code: string | null; recorded: 'executed' | 'denied' | 'held'}

/**
 * Redaction as a cassette needs it: the runtime's redactor (src/runtime/redact.ts), handed in by
 * whoever records or replays, so that no cassette holds a secret in the clear and a replay can put
 * back, from the clear request it is asked, the secrets the recorded answer repeated.
 */
export type CassetteRedactor = {
  redactText(text: string): string
  redactValue(value: unknown): unknown
  restoreFrom(value: unknown, source: unknown): unknown
}
