import {readFileSync} from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {loadBundle} from '../src/bundle/load.js'
import {compileArgValidator} from '../src/tools/contract.js'

export type ArgValidateResult = {ns_per_call: number; calls: number; distinct: number; invalid: number}

/**
 * Cost of checking one tool call's arguments against its contract, as the runtime does for every
 * proposed call: the support-refunds v2 validators, compiled once, over the tool calls production
 * recorded in its traffic (valid and invalid, in recorded order), `calls` checks in all.
 */
export async function measureArgValidation(root: string, calls: number): Promise<ArgValidateResult> {
  const scenario = path.join(root, 'scenarios', 'support-refunds')
  const bundle = await loadBundle(path.join(scenario, 'v2'))
  const validators = new Map(bundle.manifest.tools.map((t) => [t.name, compileArgValidator(t.args)]))
  const recorded: {validate: (args: unknown) => unknown[]; args: unknown}[] = []
  for (const line of readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n')) {
    if (line === '') continue
    const rec = JSON.parse(line) as {production: {tool_calls: {name: string; args: unknown}[]}}
    for (const call of rec.production.tool_calls) {
      const validate = validators.get(call.name)
      if (validate) recorded.push({validate, args: call.args})
    }
  }
  let invalid = 0
  for (const r of recorded) if (r.validate(r.args).length > 0) invalid++
  // Warm-up: the functions optimised, as in any run past its first requests.
  for (let i = 0; i < Math.min(calls, 20_000); i++) recorded[i % recorded.length]!.validate(recorded[i % recorded.length]!.args)
  const t0 = performance.now()
  let issues = 0
  for (let i = 0; i < calls; i++) issues += recorded[i % recorded.length]!.validate(recorded[i % recorded.length]!.args).length
  const ns = ((performance.now() - t0) * 1e6) / calls
  if (issues < 0) throw new Error('unreachable')
  return {ns_per_call: ns, calls, distinct: recorded.length, invalid}
}
