import path from 'node:path'
import {z} from 'zod'
import {ConfigPaths, configFileIn, parseConfigFile, readConfigText} from '../util/config-file.js'

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
    /** Which model answers, as `--model` takes it (e.g. `recorded`); absent: each bundle's own model. */
    model: z.string().min(1).optional(),
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
  /** A `--model` spec, or null for each bundle's own model. */
  model: string | null
}

/** Accepts the scenario directory or the scenario.yaml itself. */
export function loadScenario(target: string): Scenario {
  const file = configFileIn(target, SCENARIO_FILE, 'scenario')
  return parseScenario(file, readConfigText(file, 'scenario'))
}

/** Parses and resolves; checks referenced paths exist (files for traffic/fixtures; a bundle may be its directory or its manifest). */
export function parseScenario(file: string, text: string): Scenario {
  const data = parseConfigFile(file, text, ScenarioFile)
  const paths = new ConfigPaths(file)
  const scenario: Scenario = {
    name: data.name,
    description: data.description ?? null,
    dir: paths.dir,
    file: path.resolve(file),
    traffic: paths.resolve(['traffic'], data.traffic, 'file'),
    baseline: paths.resolve(['baseline'], data.baseline, 'any'),
    candidate: paths.resolve(['candidate'], data.candidate, 'any'),
    fixtures: data.fixtures === undefined ? null : paths.resolve(['fixtures'], data.fixtures, 'file'),
    approver: data.approver,
    skill: data.skill === undefined ? null : paths.resolve(['skill'], data.skill, 'file'),
    model: data.model ?? null,
  }
  paths.check()
  return scenario
}
