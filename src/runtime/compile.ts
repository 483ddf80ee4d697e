import {canonicalManifest} from '../bundle/hash.js'
import type {Bundle, BundleManifest} from '../bundle/schema.js'
import {ValidationError} from '../errors.js'
import type {ChatMessage, ChatRequest, ToolSpec} from '../model/types.js'
import {compilePolicy, type CompiledPolicy} from '../policy/engine.js'
import {type ArgIssue, compileArgValidator, toToolSpec} from '../tools/contract.js'
import {compileTools, type CompiledTool} from './guardrails/mid-run.js'
import {toolCatalogMessage} from '../model/tool-catalog.js'
import {compileIntents, type CompiledIntent} from './guardrails/intent.js'
import {compileTemplate, type CompiledTemplate, planFormat} from './messages.js'
import {withoutSections} from '../bundle/templates.js'
import {sectionsFlaggedOff} from './autonomy.js'

/**
 * Everything about a bundle that does not depend on the request, worked out once: runRequest runs
 * thousands of times per second and must not re-parse regexes, schemas or templates each time.
 */
export type CompiledBundle = {
  ref: string
  manifest: BundleManifest
  tools: Map<string, CompiledTool>
  policy: CompiledPolicy
  /** Enabled tools only, as offered to the model. */
  toolSpecs: ToolSpec[]
  /** `{{tools}}`: enabled tool names, comma-separated. */
  toolList: string
  /**
   * `guardrails.intents`, with what each offers (its enabled tools, in the canonical order); null
   * when the bundle declares none. `unmatched`: what a request of no intent is offered (nothing).
   */
  intents: {list: (CompiledIntent & {offer: ToolOffer})[]; unmatched: ToolOffer} | null
  system: CompiledTemplate
  /** plan_first mode only. */
  plan: CompiledTemplate | null
  /**
   * The system and plan templates as `tenant` is sent them: without the prompt sections feature
   * flags turn off for it (`off`, sorted). Compiled once per distinct set of sections off.
   */
  promptsFor(tenant: string): {system: CompiledTemplate; plan: CompiledTemplate | null; off: readonly string[]}
  /** plan_first mode only: the plan's JSON Schema (Ollama `format`) and the tool catalog sent with planning calls. */
  planning: {format: Record<string, unknown>; catalog: ChatMessage} | null
  options: ChatRequest['options']
  /** guardrails.output_schema, compiled; null when the bundle declares none. */
  outputSchema: ((value: unknown) => ArgIssue[]) | null
  /**
   * guardrails.output_schema as sent in Ollama's `format` (the canonical form's, so the same hash
   * sends the same bytes), on the calls that can only end in the final answer: those that offer no
   * tools. A call that offers tools never carries it: constrained decoding would keep the model
   * from proposing a call at all (docs/architecture.md, "Output schema as `format`"). Null when the
   * bundle declares none.
   */
  answerFormat: Record<string, unknown> | null
}

/** What one request is offered: the tools, `{{tools}}`, and (plan_first) the planning call's schema and catalog. */
export type ToolOffer = {
  toolSpecs: ToolSpec[]
  toolList: string
  planning: {format: Record<string, unknown>; catalog: ChatMessage} | null
}

export function offerOf(toolSpecs: ToolSpec[], planFirst: boolean): ToolOffer {
  const names = toolSpecs.map((t) => t.function.name)
  return {
    toolSpecs,
    toolList: names.join(', '),
    planning: planFirst ? {format: planFormat(names), catalog: toolCatalogMessage(toolSpecs)} : null,
  }
}

export function compileBundle(bundle: Bundle): CompiledBundle {
  // The runtime runs the canonical form the hash is taken over, never the file's order: what the
  // model is offered (tools, `{{tools}}`, argument schemas, options) and what it is told back (the
  // order of schema issues) are then the same for any two bundles with the same hash.
  const manifest = canonicalManifest(bundle.manifest)
  const enabled = manifest.tools.filter((t) => t.enabled)
  const templateText = (field: 'system' | 'plan', file: string): string => {
    const text = Object.hasOwn(bundle.templates, file) ? bundle.templates[file] : undefined
    if (text === undefined) {
      throw new ValidationError([`${bundle.manifestFile}:prompts.${field}: template ${file} was not loaded`])
    }
    return text
  }
  const systemText = templateText('system', manifest.prompts.system)
  let planText: string | null = null
  if (manifest.agent.mode === 'plan_first') {
    if (manifest.prompts.plan === undefined) {
      throw new ValidationError([`${bundle.manifestFile}:prompts.plan: required when agent.mode is plan_first`])
    }
    planText = templateText('plan', manifest.prompts.plan)
  }
  const NO_SECTION_OFF = new Set<string>()
  const system = compileTemplate(withoutSections(systemText, NO_SECTION_OFF))
  const plan = planText === null ? null : compileTemplate(withoutSections(planText, NO_SECTION_OFF))
  // The rendered prompts depend on the bundle and the set of sections off only, so the same hash and
  // tenant always send the same bytes; a run has few tenants, so the cache stays small.
  const byOff = new Map<string, ReturnType<CompiledBundle['promptsFor']>>([['', {system, plan, off: []}]])
  const sectionFlags = Object.values(manifest.flags ?? {}).some((f) => f.sections !== undefined)
  // A tenant's answer never changes for a compiled bundle; remembered for the first 4096 tenants.
  const byTenant = new Map<string, ReturnType<CompiledBundle['promptsFor']>>()
  const promptsFor = (tenant: string) => {
    // No flag names a section (every shipped bundle): one answer, no per-request work.
    if (!sectionFlags) return byOff.get('')!
    const known = byTenant.get(tenant)
    if (known !== undefined) return known
    const offSet = sectionsFlaggedOff(manifest, tenant)
    const off = [...offSet].sort()
    const key = off.join(',')
    let hit = byOff.get(key)
    if (hit === undefined) {
      hit = {
        system: compileTemplate(withoutSections(systemText, offSet)),
        plan: planText === null ? null : compileTemplate(withoutSections(planText, offSet)),
        off,
      }
      byOff.set(key, hit)
    }
    if (byTenant.size < 4096) byTenant.set(tenant, hit)
    return hit
  }
  const toolSpecs = enabled.map(toToolSpec)
  const all = offerOf(toolSpecs, plan !== null)
  const declared = manifest.guardrails.intents
  const intents =
    declared === undefined
      ? null
      : {
          list: compileIntents(declared).map((i) => ({...i, offer: offerOf(toolSpecs.filter((t) => i.tools.has(t.function.name)), plan !== null)})),
          unmatched: offerOf([], plan !== null),
        }
  return {
    ref: bundle.ref,
    manifest,
    tools: compileTools(manifest),
    policy: compilePolicy(manifest.policies, manifest.policy_default),
    toolSpecs,
    toolList: all.toolList,
    intents,
    system,
    plan,
    promptsFor,
    planning: all.planning,
    outputSchema: manifest.guardrails.output_schema === undefined ? null : compileArgValidator(manifest.guardrails.output_schema),
    answerFormat: manifest.guardrails.output_schema ?? null,
    // The named settings win over pass-through options that happen to share their names.
    options: {
      ...manifest.model.options,
      temperature: manifest.model.temperature,
      seed: manifest.model.seed,
      num_predict: manifest.model.max_output_tokens,
    },
  }
}
