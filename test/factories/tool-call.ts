import {ToolCallTrace} from '../../src/trace/schema.js'
import {hashJson} from '../../src/util/canonical.js'

/**
 * A tool call as a trace holds it (checked by the real schema): read-only, executed, answered
 * `{ok: true}`. `args_hash` is the hash of the arguments unless overridden; a trace built by
 * trace() numbers its calls' `seq` in order.
 */
export function toolCall(name: string, args: Record<string, unknown> = {}, overrides: Partial<ToolCallTrace> = {}): ToolCallTrace {
  const callArgs = overrides.args ?? args
  return ToolCallTrace.parse({
    seq: 0,
    step: 0,
    name,
    risk: 'read',
    args: callArgs,
    args_hash: hashJson(callArgs),
    idempotency_key: null,
    attempt: 1,
    outcome: 'ok',
    executed: true,
    result: {ok: true},
    error: null,
    latency_ms: 10,
    ...overrides,
  })
}
