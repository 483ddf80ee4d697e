import type {Bundle} from '../../src/bundle/schema.js'
import type {ModelClient} from '../../src/model/types.js'
import {compileBundle, type AgentDeps} from '../../src/runtime/agent.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {createMockTools} from '../../src/tools/mock-tools.js'

/**
 * What `runRequest` needs to run one request of `bundle` with `model`: the bundle compiled, mock tools
 * without fixtures, approvals left pending, no faults, a fresh redactor and rate limiter, the
 * candidate side's first repeat — each replaceable through `over`.
 */
export function agentDeps(bundle: Bundle, model: ModelClient, over: Partial<AgentDeps> = {}): AgentDeps {
  return {
    bundle,
    compiled: compileBundle(bundle),
    model,
    tools: createMockTools(null),
    approver: 'pending',
    faults: null,
    redactor: createRedactor(),
    limiter: new RateLimiter(),
    side: 'candidate',
    repeat: 0,
    ...over,
  }
}
