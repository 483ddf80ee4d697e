import type {Bundle} from '../../src/bundle/schema.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import {loadSkills} from '../../src/model/scripted/skill-modules.js'
import type {ChatRequest, ChatResponse} from '../../src/model/types.js'
import {compileBundle, runRequest, type AgentDeps} from '../../src/runtime/agent.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {loadScenario} from '../../src/scenario/load.js'
import {loadFixtures} from '../../src/tools/fixtures.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {readTraffic} from '../../src/traffic/reader.js'

/**
 * A shipped scenario replayed in process through the runtime with the scripted model and its
 * skills, the scenario's fixtures and approver: what `shadow` does for one side, without the store.
 */
export type Replayed = {
  traces: RequestTrace[]
  /** Model calls that carried a `format` (plan_first's planning calls), with their answers. */
  requests: ChatRequest[]
  answers: ChatResponse[]
}

export type ReplayOptions = {
  /** Stop after this traffic line. */
  limit?: number
  /** Replay only the requests this accepts. */
  only?: (record: TrafficRecord) => boolean
  /** Changes each request before it runs (its line number and index among those run given). */
  edit?: (record: TrafficRecord, index: number) => TrafficRecord
}

export async function replayScenario(scenarioDir: string, bundle: Bundle, opts: ReplayOptions = {}): Promise<Replayed> {
  const scenario = loadScenario(scenarioDir)
  const inner = createScriptedModel({
    name: bundle.manifest.model.name,
    seed: bundle.manifest.model.seed,
    skills: await loadSkills(scenario.skill === null ? [] : [scenario.skill]),
  })
  const out: Replayed = {traces: [], requests: [], answers: []}
  const deps: AgentDeps = {
    bundle,
    compiled: compileBundle(bundle),
    model: {
      id: inner.id,
      async chat(request, signal) {
        const answer = await inner.chat(request, signal)
        if (request.format !== undefined) {
          out.requests.push(request)
          out.answers.push(answer)
        }
        return answer
      },
    },
    tools: createMockTools(scenario.fixtures === null ? null : loadFixtures(scenario.fixtures)),
    approver: scenario.approver,
    faults: null,
    redactor: createRedactor(),
    limiter: new RateLimiter(),
    side: 'candidate',
    repeat: 0,
  }
  for await (const line of readTraffic(scenario.traffic)) {
    if (opts.limit !== undefined && line.line > opts.limit) break
    if (!line.ok) throw new Error(line.error)
    if (opts.only && !opts.only(line.record)) continue
    const record = opts.edit ? opts.edit(line.record, out.traces.length) : line.record
    out.traces.push(await runRequest(record, line.line, deps))
  }
  return out
}

/** The bundle with its manifest changed by `edit` (same dir and templates; the hash is not recomputed). */
export function withManifest(bundle: Bundle, edit: (m: Bundle['manifest']) => Bundle['manifest']): Bundle {
  return {...bundle, manifest: edit(bundle.manifest)}
}
