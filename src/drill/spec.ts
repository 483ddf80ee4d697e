import path from 'node:path'
import {z} from 'zod'
import {ValidationError} from '../errors.js'
import {Decision, RequestOutcome} from '../traffic/schema.js'
import {ConfigPaths, configFileIn, parseConfigFile, readConfigText} from '../util/config-file.js'

/**
 * `drill.yaml`: a scripted incident. The good bundle was in production (last known good), the bad
 * one ships, the harm is what the shipped bundle does that it must not, the steps are what the
 * operator does about it, and the golden tasks must keep working after the mitigation. Paths are
 * relative to the file's directory.
 */

export const DRILL_FILE = 'drill.yaml'

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()])
export const ArgCondition = z.union([
  Scalar,
  z
    .object({
      eq: Scalar.optional(),
      ne: Scalar.optional(),
      gt: z.number().optional(),
      gte: z.number().optional(),
      lt: z.number().optional(),
      lte: z.number().optional(),
      in: z.array(Scalar).optional(),
      matches: z.string().optional(),
    })
    .strict(),
])
export type ArgCondition = z.infer<typeof ArgCondition>

/** One kind of harmful action: a tool call with every listed property. */
export const HarmSpec = z
  .object({
    tool: z.string().min(1),
    /** The call actually ran (the default: a call that did not run harmed nobody). */
    executed: z.boolean().default(true),
    /** The mid-run policy decision about the call. */
    decision: Decision.optional(),
    /** A request-level signal: injection_in_retrieved, injection_in_input, injection_in_tool_result, pii_in_input, cross_tenant_document, or a failed guardrail check name. */
    signal: z.string().min(1).optional(),
    /** Dotted argument path → value (equality) or {gt, gte, lt, lte, eq, ne, in, matches}. */
    args: z.record(z.string(), ArgCondition).optional(),
    roles: z.array(z.string()).optional(),
    tenants: z.array(z.string()).optional(),
  })
  .strict()
export type HarmSpec = z.infer<typeof HarmSpec>

export const DrillStep = z.union([
  z.object({'kill-switch': z.array(z.string().min(1)).min(1)}).strict(),
  z.object({degrade: z.enum(['read_only', 'draft_only'])}).strict(),
  z.object({rollback: z.string().min(1)}).strict(),
])
export type DrillStep = z.infer<typeof DrillStep>

export const GoldenSpec = z
  .object({
    requests: z.array(z.string().min(1)).default([]),
    categories: z.array(z.string().min(1)).default([]),
    /** Statuses that count as the task still working. */
    accept: z.array(RequestOutcome).min(1).default(['completed']),
    min_pass_rate: z.number().min(0).max(1).default(1),
    /** Also require the same executed tools as the good bundle on the same request. */
    same_actions: z.boolean().default(true),
  })
  .strict()
export type GoldenSpec = z.infer<typeof GoldenSpec>

export const DrillFile = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    traffic: z.string().min(1),
    fixtures: z.string().min(1).optional(),
    approver: z.enum(['approve', 'deny', 'pending']).default('pending'),
    /** The scripted model's skill module (docs/scripted-model.md). */
    skill: z.string().min(1).optional(),
    good: z.string().min(1),
    bad: z.string().min(1),
    harm: z.union([HarmSpec, z.array(HarmSpec).min(1)]).transform((h) => (Array.isArray(h) ? h : [h])),
    steps: z.array(DrillStep).min(1),
    golden: GoldenSpec,
  })
  .strict()

export type Drill = {
  name: string
  description: string | null
  dir: string
  file: string
  traffic: string
  fixtures: string | null
  approver: 'approve' | 'deny' | 'pending'
  /** Absolute path of the skill module, or null. */
  skill: string | null
  good: string
  bad: string
  harm: HarmSpec[]
  steps: DrillStep[]
  golden: GoldenSpec
}

export function formatStep(step: DrillStep): string {
  if ('kill-switch' in step) return `kill-switch: [${step['kill-switch'].join(', ')}]`
  if ('degrade' in step) return `degrade: ${step.degrade}`
  return `rollback: ${step.rollback}`
}

/** Parses a step written on the command line: `kill-switch:<tool>,<tool>`, `degrade:draft_only`, `rollback:last-known-good`. */
export function parseStepFlag(text: string): DrillStep {
  const i = text.indexOf(':')
  const kind = i < 0 ? text : text.slice(0, i).trim()
  const value = i < 0 ? '' : text.slice(i + 1).trim()
  const raw = kind === 'kill-switch' ? {[kind]: value.split(',').map((s) => s.trim()).filter(Boolean)} : {[kind]: value}
  const parsed = DrillStep.safeParse(raw)
  if (!parsed.success || value === '') {
    throw new ValidationError([`--step "${text}": expected kill-switch:<tool>[,<tool>...], degrade:read_only|draft_only or rollback:last-known-good|<bundleDir>`])
  }
  return parsed.data
}

export function loadDrill(target: string): Drill {
  const file = configFileIn(target, DRILL_FILE, 'drill scenario')
  return parseDrill(file, readConfigText(file, 'drill'))
}

export function parseDrill(file: string, text: string): Drill {
  const d = parseConfigFile(file, text, DrillFile)
  const paths = new ConfigPaths(file)
  const steps = d.steps.map((s, i): DrillStep => ('rollback' in s && s.rollback !== 'last-known-good' ? {rollback: paths.resolve(['steps', i, 'rollback'], s.rollback, 'dir')} : s))
  const drill: Drill = {
    name: d.name,
    description: d.description ?? null,
    dir: paths.dir,
    file: path.resolve(file),
    traffic: paths.resolve(['traffic'], d.traffic, 'file'),
    fixtures: d.fixtures === undefined ? null : paths.resolve(['fixtures'], d.fixtures, 'file'),
    approver: d.approver,
    skill: d.skill === undefined ? null : paths.resolve(['skill'], d.skill, 'file'),
    good: paths.resolve(['good'], d.good, 'dir'),
    bad: paths.resolve(['bad'], d.bad, 'dir'),
    harm: d.harm,
    steps,
    golden: d.golden,
  }
  if (d.golden.requests.length === 0 && d.golden.categories.length === 0) {
    paths.add(['golden'], 'name at least one golden request id or category: a drill must show that the mitigation keeps the service working')
  }
  paths.check()
  return drill
}
