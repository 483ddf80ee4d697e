import type {DecisionStage} from '../../traffic/schema.js'
import type {GuardrailResult, GuardrailSeverity} from '../../trace/schema.js'

/** A value a detail interpolates; each is one level of the key. */
type Part = string | number | boolean | null

type Level = Map<Part | void, Level | GuardrailResult>

/**
 * The results of one guardrail outcome (stage, check, passed, severity) whose detail is a fixed
 * template of a few values: a passing check says the same thing request after request (`lookup_order
 * is allowed`, `call 1 of 6`). Each distinct (step, values) gets one result, built once and frozen,
 * and every request that meets it shares that object, so neither its detail text nor its stored
 * form is built again: the trace recorder keeps one redacted copy per frozen result, the row encoder
 * one JSON tuple per frozen result (Object.isFrozen is their test, and a frozen result cannot change).
 *
 * Keyed by the values themselves (nested Maps, one level per value), never by a text built from
 * them. `detail` must be a pure function of its arguments. Bounded: at `maxEntries` results held,
 * everything is dropped and built again as met.
 */
// An unused value is `void`, so callers leave it out (and it keys its level as undefined).
export class SharedResults<A extends Part | void = void, B extends Part | void = void, C extends Part | void = void, D extends Part | void = void> {
  private root: Level = new Map()
  private size = 0

  constructor(
    private readonly stage: DecisionStage,
    private readonly check: string,
    private readonly passed: boolean,
    private readonly severity: GuardrailSeverity,
    private readonly detail: (a: A, b: B, c: C, d: D) => string,
    private readonly maxEntries = 4096,
  ) {}

  /** The shared, frozen result for `step` and these values. */
  get(step: number, a: A, b: B, c: C, d: D): GuardrailResult {
    let level = this.root
    let next = level.get(step) as Level | undefined
    if (next === undefined) return this.build(step, a, b, c, d)
    level = next
    next = level.get(a) as Level | undefined
    if (next === undefined) return this.build(step, a, b, c, d)
    level = next
    next = level.get(b) as Level | undefined
    if (next === undefined) return this.build(step, a, b, c, d)
    level = next
    next = level.get(c) as Level | undefined
    if (next === undefined) return this.build(step, a, b, c, d)
    const result = next.get(d) as GuardrailResult | undefined
    return result === undefined ? this.build(step, a, b, c, d) : result
  }

  private build(step: number, a: A, b: B, c: C, d: D): GuardrailResult {
    const result: GuardrailResult = Object.freeze({
      stage: this.stage,
      step,
      check: this.check,
      passed: this.passed,
      severity: this.severity,
      detail: this.detail(a, b, c, d),
    })
    if (this.size >= this.maxEntries) {
      this.root = new Map()
      this.size = 0
    }
    let level = this.root
    for (const key of [step, a, b, c]) {
      let next = level.get(key) as Level | undefined
      if (next === undefined) {
        next = new Map()
        level.set(key, next)
      }
      level = next
    }
    level.set(d, result)
    this.size++
    return result
  }
}

/** A result that names no value: one frozen object per step. */
export function sharedConstant(stage: DecisionStage, check: string, passed: boolean, severity: GuardrailSeverity, detail: string): SharedResults {
  return new SharedResults(stage, check, passed, severity, () => detail)
}
