import type {AgentState, StepTrace} from '../trace/schema.js'

/**
 * The agent's states and the only transitions between them, for one request on one side:
 *
 *   start → retrieve → plan → act → observe → … → decide → plan … → finish
 *
 * `retrieve` admits context (pre-model guardrails), `plan` is one model call, `act`/`observe` run
 * one proposed tool call and hand its result back, `decide` closes a turn (or judges a final
 * answer) and chooses between another model call and `finish`. The driver (agent.ts) enters every
 * state through AgentStateMachine, which checks it against ALLOWED_TRANSITIONS and records it as a
 * StepTrace, so a trace's steps always follow this table.
 */

export type From = AgentState | 'start'

export const ALLOWED_TRANSITIONS: Readonly<Record<From, readonly AgentState[]>> = {
  start: ['retrieve'],
  // Context admitted: ask the model, or stop (input blocked, no step budget at all).
  retrieve: ['plan', 'finish'],
  // A model answer: tool calls to run, a final answer (or plan outcome) to judge, or an end
  // (model failure, token/cost budget, unusable plan).
  plan: ['act', 'decide', 'finish'],
  // A call ends in an observation, or the request ends on a budget.
  act: ['observe', 'finish'],
  // Next call of the same turn, or close the turn.
  observe: ['act', 'decide'],
  decide: ['plan', 'finish'],
  finish: [],
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: From,
    readonly to: AgentState,
  ) {
    super(`illegal agent transition ${from} → ${to} (allowed: ${ALLOWED_TRANSITIONS[from].join(', ') || 'none'})`)
    this.name = 'IllegalTransitionError'
  }
}

/** Records steps; refuses (throws) any transition the table does not allow, because that is a bug. */
export class AgentStateMachine {
  private current: From = 'start'
  readonly steps: StepTrace[] = []

  get state(): From {
    return this.current
  }

  enter(to: AgentState, detail: string): StepTrace {
    if (!ALLOWED_TRANSITIONS[this.current].includes(to)) throw new IllegalTransitionError(this.current, to)
    const step: StepTrace = {index: this.steps.length, state: to, detail, input_tokens: 0, output_tokens: 0, latency_ms: 0}
    this.steps.push(step)
    this.current = to
    return step
  }
}
