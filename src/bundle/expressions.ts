import {compileExpression, type ExpressionProblem} from '../policy/expression.js'
import {positionInValue} from '../util/source-position.js'
import type {ManifestView} from './checks.js'

/**
 * The CEL expressions of a manifest (`policies.N.if`, `tools.N.budget.per`,
 * `tools.N.rate_limits.per`) parsed and type-checked as the runtime will compile them, each problem
 * located at the character: `bundle.yaml:LINE:COL: policies.3.if: Unknown variable: argz`.
 */
export function expressionProblems(file: string, text: string, view: ManifestView): string[] {
  const out: string[] = []
  const check = (path: (string | number)[], source: string | undefined, want: 'bool' | 'any') => {
    if (source === undefined) return
    const compiled = compileExpression(source, want)
    if (!compiled.ok) out.push(located(file, text, path, compiled.problem))
  }
  for (const {index, value: rule} of view.policies) check(['policies', index, 'if'], rule.if, 'bool')
  for (const {index, value: tool} of view.tools) {
    check(['tools', index, 'budget', 'per'], tool.budget?.per, 'any')
    check(['tools', index, 'rate_limits', 'per'], tool.rate_limits?.per, 'any')
  }
  return out
}

function located(file: string, text: string, path: (string | number)[], problem: ExpressionProblem): string {
  const at = positionInValue(text, path, problem.offset)
  return `${file}:${at ? `${at}: ` : ''}${path.join('.')}: ${problem.message}`
}
