import {existsSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {z} from 'zod'
import {parseManifestText} from '../bundle/parse-manifest.js'
import {problem, zodProblems} from '../bundle/zod-problems.js'
import {UnderstudyError, ValidationError} from '../errors.js'

/**
 * `scenario.yaml`: which traffic, which two bundles, which fixtures, which simulated approver and
 * which skill module of the scripted model make up one shadow-run scenario. Paths in the file are
 * relative to the file's directory; the loader resolves them and checks that each exists, so a
 * run never starts on a typo.
 */

export const SCENARIO_FILE = 'scenario.yaml'

const relPath = z.string().min(1)

export const ScenarioFile = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    traffic: relPath,
    baseline: relPath,
    candidate: relPath,
    fixtures: relPath.optional(),
    approver: z.enum(['approve', 'deny', 'pending']).default('pending'),
    /** The scripted model's skill module (docs/scripted-model.md). */
    skill: relPath.optional(),
  })
  .strict()
export type ScenarioFile = z.infer<typeof ScenarioFile>

export type Scenario = {
  name: string
  description: string | null
  /** Absolute directory holding scenario.yaml. */
  dir: string
  /** Absolute path of scenario.yaml. */
  file: string
  /** Absolute paths. */
  traffic: string
  baseline: string
  candidate: string
  fixtures: string | null
  approver: ScenarioFile['approver']
  /** Absolute path of the skill module, or null. */
  skill: string | null
}

/** Accepts the scenario directory or the scenario.yaml itself. */
export function loadScenario(target: string): Scenario {
  const abs = path.resolve(target)
  if (!existsSync(abs)) throw new UnderstudyError(`${target}: no such scenario directory or file`)
  const file = statSync(abs).isDirectory() ? path.join(abs, SCENARIO_FILE) : abs
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new UnderstudyError(`${file}: cannot read scenario (${code ?? (e as Error).message})`, {cause: e})
  }
  return parseScenario(file, text)
}

/** Parses and resolves; checks referenced paths exist (files for traffic/fixtures; a bundle may be its directory or its manifest). */
export function parseScenario(file: string, text: string): Scenario {
  const parsed = parseManifestText(file, text)
  if (!parsed.ok) throw new ValidationError(parsed.problems)
  const result = ScenarioFile.safeParse(parsed.value ?? {})
  if (!result.success) throw new ValidationError(zodProblems(file, result.error.issues, parsed.value))
  const data = result.data
  const dir = path.dirname(path.resolve(file))
  const problems: string[] = []
  const resolve = (field: string, rel: string, kind: 'file' | 'bundle'): string => {
    const abs = path.resolve(dir, rel)
    if (!existsSync(abs)) problems.push(problem(file, [field], `${rel} does not exist (resolved to ${abs})`))
    else if (kind === 'file' && statSync(abs).isDirectory()) problems.push(problem(file, [field], `${rel} is a directory, expected a file`))
    return abs
  }
  const scenario: Scenario = {
    name: data.name,
    description: data.description ?? null,
    dir,
    file: path.resolve(file),
    traffic: resolve('traffic', data.traffic, 'file'),
    baseline: resolve('baseline', data.baseline, 'bundle'),
    candidate: resolve('candidate', data.candidate, 'bundle'),
    fixtures: data.fixtures === undefined ? null : resolve('fixtures', data.fixtures, 'file'),
    approver: data.approver,
    skill: data.skill === undefined ? null : resolve('skill', data.skill, 'file'),
  }
  if (problems.length > 0) throw new ValidationError(problems)
  return scenario
}
