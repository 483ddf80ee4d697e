import {z} from 'zod'
import {ToolErrorCode} from '../traffic/schema.js'
import {loadConfigFile, parseConfigFile} from '../util/config-file.js'

/**
 * `fixtures.yaml`: answers for tool calls the candidate makes that production never made.
 * Loaded once, before a run starts; the mock tools never touch the file system themselves.
 */

const FixtureError = z
  .object({
    code: ToolErrorCode,
    message: z.string().default(''),
    retry_after_ms: z.number().int().nonnegative().optional(),
  })
  .strict()

const answerFields = {
  result: z.unknown().optional(),
  error: FixtureError.optional(),
  /** Simulated latency; the sandbox default when absent. */
  latency_ms: z.number().nonnegative().optional(),
}

function exactlyOneOutcome(v: {result?: unknown; error?: unknown}, ctx: z.RefinementCtx): void {
  const has = (v.result !== undefined ? 1 : 0) + (v.error !== undefined ? 1 : 0)
  if (has !== 1) ctx.addIssue({code: 'custom', message: 'needs exactly one of result or error'})
}

export const FixtureAnswer = z.object(answerFields).strict().superRefine(exactlyOneOutcome)
export type FixtureAnswer = z.infer<typeof FixtureAnswer>

export const Fixture = z
  .object({
    tool: z.string().min(1),
    /** Every listed argument must deep-equal the call's; an empty match answers any call of the tool. */
    match: z.record(z.string(), z.unknown()).default({}),
    ...answerFields,
  })
  .strict()
  .superRefine(exactlyOneOutcome)
export type Fixture = z.infer<typeof Fixture>

export const FixturesFile = z
  .object({
    tools: z.record(z.string(), z.object({default: FixtureAnswer}).strict()).default({}),
    fixtures: z.array(Fixture).default([]),
  })
  .strict()
export type Fixtures = z.infer<typeof FixturesFile>

export function emptyFixtures(): Fixtures {
  return {tools: {}, fixtures: []}
}

/** Parses fixtures text; `file` names the source in every problem (`fixtures.yaml:fixtures.1.error.code: ...`). An empty file is an empty set of fixtures. */
export function parseFixtures(file: string, text: string): Fixtures {
  return parseConfigFile(file, text, FixturesFile)
}

export function loadFixtures(file: string): Fixtures {
  return loadConfigFile(file, FixturesFile, {what: 'fixtures'})
}
