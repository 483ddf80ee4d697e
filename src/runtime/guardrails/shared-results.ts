import type {DecisionStage} from '../../traffic/schema.js'
import type {GuardrailResult, GuardrailSeverity} from '../../trace/schema.js'

/** A value a detail interpolates; each is one level of the key. */
type Part = string | number | boolean | null

type Level = Map<Part | undefined, Level | GuardrailResult>

/**
 * The results of one guardrail outcome (stage, check, passed, severity) whose detail is a fixed
 * template of a few values: a passing check says the same thing request after request (`<tool>
 * is allowed`, `call 1 of 6`). Each distinct (step, values) gets one result, built once and frozen,
 * and every request that meets it shares that object, so neither its detail text nor its stored
 * form is built again: the trace recorder keeps one redacted copy per frozen result, the row encoder
 * one JSON tuple per frozen result (Object.isFrozen is their test, and a frozen result cannot change).
 *
 * Keyed by the values themselves (nested Maps, one level per value), never by a text built from
 * them. `detail` must be a pure function of its arguments. Bounded: at `maxEntries` results held,
 * everything is dropped and built again as met.
 */
// `P`: the values `detail` takes (at most four), one level each; as many levels as it declares
// parameters (its `length`), so each declared one must be a value it reads.
export class SharedResults<P extends [] | [Part] | [Part, Part] | [Part, Part, Part] | [Part, Part, Part, Part] = []> {
  /** Per step: the result itself (no values) or the first level of values. */
  private bySteps: (Level | GuardrailResult | undefined)[] = []
  private size = 0
  /** How many of a, b, c, d the detail names: the levels below a step. */
  private readonly arity: number

  constructor(
    private readonly stage: DecisionStage,
    private readonly check: string,
    private readonly passed: boolean,
    private readonly severity: GuardrailSeverity,
    private readonly detail: (...values: P) => string,
    private readonly maxEntries = 4096,
  ) {
    this.arity = detail.length
  }

  /** The shared, frozen result for `step` and these values. */
  get(step: number, ...values: P): GuardrailResult
  // Fixed parameters, not a rest array: nothing allocated per call.
  get(step: number, a?: Part, b?: Part, c?: Part, d?: Part): GuardrailResult {
    let node = step < MAX_STEP ? this.bySteps[step] : undefined
    if (node !== undefined && this.arity > 0) node = (node as Level).get(a)
    if (node !== undefined && this.arity > 1) node = (node as Level).get(b)
    if (node !== undefined && this.arity > 2) node = (node as Level).get(c)
    if (node !== undefined && this.arity > 3) node = (node as Level).get(d)
    return node === undefined ? this.build(step, a, b, c, d) : (node as GuardrailResult)
  }

  private build(step: number, a?: Part, b?: Part, c?: Part, d?: Part): GuardrailResult {
    const result: GuardrailResult = {
      stage: this.stage,
      step,
      check: this.check,
      passed: this.passed,
      severity: this.severity,
      detail: (this.detail as (a?: Part, b?: Part, c?: Part, d?: Part) => string)(a, b, c, d),
    }
    // Not enumerable: invisible to JSON, Object.keys, spreads and equality.
    Object.defineProperty(result, STORED, {value: {redactor: null, stored: null} satisfies StoredForm})
    Object.freeze(result)
    if (step >= MAX_STEP) return result
    if (this.size >= this.maxEntries) {
      this.bySteps = []
      this.size = 0
    }
    this.size++
    if (this.arity === 0) {
      this.bySteps[step] = result
      return result
    }
    let level = this.bySteps[step] as Level | undefined
    if (level === undefined) {
      level = new Map()
      this.bySteps[step] = level
    }
    const keys = [a, b, c, d]
    for (let i = 0; i < this.arity - 1; i++) {
      let next = level.get(keys[i]) as Level | undefined
      if (next === undefined) {
        next = new Map()
        level.set(keys[i], next)
      }
      level = next
    }
    level.set(keys[this.arity - 1], result)
    return result
  }
}

/**
 * What the trace stores for a shared result under the last redactor that stored it (see
 * storedForm): kept on the result itself, so the recorder finds it without a lookup.
 */
export type StoredForm = {redactor: object | null; stored: GuardrailResult | null}

const STORED = Symbol('stored form')

/** The stored-form slot of a result from SharedResults; undefined for any other result. */
export function storedForm(result: GuardrailResult): StoredForm | undefined {
  return (result as {[STORED]?: StoredForm})[STORED]
}

/** Steps from 0 to this are held; a later step's results are built each time (still frozen). */
const MAX_STEP = 256

/** A result that names no value: one frozen object per step. */
export function sharedConstant(stage: DecisionStage, check: string, passed: boolean, severity: GuardrailSeverity, detail: string): SharedResults {
  return new SharedResults(stage, check, passed, severity, () => detail)
}
