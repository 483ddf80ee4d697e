import path from 'node:path'
import {ValidationError} from '../errors.js'
import {loadScenario} from '../scenario/load.js'
import type {ShadowOptionsInput} from '../store/run-config.js'
import {parseShard} from './shard.js'

export type ShadowFlags = {
  traffic?: string
  scenario?: string
  candidate?: string
  baseline?: string
  model?: string
  ollama_host?: string
  concurrency?: number
  repeat?: number
  faults?: string
  seed?: number
  approver?: 'approve' | 'deny' | 'pending'
  fixtures?: string
  record_cassette?: string
  replay_cassette?: string
  run_name?: string
  limit?: number
  strict?: boolean
  model_cache?: 'auto' | 'always' | 'off'
  /** Skill modules; replace the scenario's `skill`. */
  skill?: string[]
  /** `i/N`: replay shard i of N only. */
  shard?: string
}

/**
 * Merges a scenario's defaults (scenario.yaml) with explicit flags; flags win. A scenario's paths
 * come relative to the working directory, as a typed flag would; startShadow makes every path
 * absolute before the run config is stored.
 */
export async function resolveShadowInput(flags: ShadowFlags): Promise<ShadowOptionsInput> {
  const scenario = flags.scenario ? await loadScenario(flags.scenario) : null
  const rel = (p: string | null | undefined): string | undefined => (p ? path.relative(process.cwd(), p) || '.' : undefined)
  const traffic = flags.traffic ?? rel(scenario?.traffic)
  const candidate = flags.candidate ?? rel(scenario?.candidate)
  const problems: string[] = []
  if (!traffic) problems.push('shadow: give a traffic file (or --scenario <dir>)')
  if (!candidate) problems.push('shadow: --candidate <bundleDir> is required (or --scenario <dir>)')
  if (flags.baseline === 'scenario' && !scenario) problems.push('shadow: --baseline scenario needs --scenario <dir>')
  if (problems.length > 0) throw new ValidationError(problems)
  const defined = <T>(v: T | undefined | null): T | undefined => (v === null ? undefined : v)
  return {
    traffic: traffic!,
    candidate: candidate!,
    // The default compares with what production did; a scenario's baseline bundle is one flag away.
    baseline: flags.baseline === 'scenario' ? rel(scenario!.baseline) : flags.baseline,
    model: defined(flags.model) ?? defined(scenario?.model),
    ollama_host: defined(flags.ollama_host),
    concurrency: flags.concurrency,
    repeat: flags.repeat,
    faults: defined(flags.faults),
    seed: flags.seed,
    approver: flags.approver ?? scenario?.approver,
    fixtures: flags.fixtures ?? rel(scenario?.fixtures),
    record_cassette: defined(flags.record_cassette),
    replay_cassette: defined(flags.replay_cassette),
    run_name: flags.run_name ?? scenario?.name,
    limit: flags.limit,
    strict: flags.strict,
    model_cache: flags.model_cache,
    skills: flags.skill ?? (scenario?.skill ? [rel(scenario.skill)!] : undefined),
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
  }
}
