import {z} from 'zod'
import {BundleManifest} from '../bundle/schema.js'
import {ScenarioFile} from '../scenario/load.js'
import {FixturesFile} from '../tools/fixtures.js'

/**
 * JSON Schemas of the three files people write by hand, generated from the zod schemas that load them
 * (so an editor checks exactly what `bundle validate` checks, as far as JSON Schema can say it), and
 * the bundle field reference rendered from the same schema. `schemas/*.schema.json` and
 * `docs/bundle-reference.md` are this module's output, committed; test/init/json-schema.test.ts
 * keeps them in step.
 */

export const CONFIG_KINDS = ['bundle', 'scenario', 'fixtures'] as const
export type ConfigKind = (typeof CONFIG_KINDS)[number]

type JsonSchema = {[k: string]: unknown}

const SOURCES: Record<ConfigKind, {schema: z.ZodType; title: string}> = {
  bundle: {schema: BundleManifest, title: 'Understudy bundle manifest (bundle.yaml)'},
  scenario: {schema: ScenarioFile, title: 'Understudy scenario (scenario.yaml)'},
  fixtures: {schema: FixturesFile, title: 'Understudy tool fixtures (fixtures.yaml)'},
}

/**
 * The schema of what a person writes (zod's input side: defaults are optional, transforms not yet
 * applied), in JSON Schema draft 7, the draft the YAML language server validates with
 * (redhat-developer/vscode-yaml README, "Associating schemas"; newer drafts are its open issue
 * #704). What zod cannot express in JSON Schema is added here: a tool gives its argument schema
 * under exactly one of args / parameters / input_schema (ToolContract's superRefine).
 */
export function configJsonSchema(kind: ConfigKind): JsonSchema {
  const {schema, title} = SOURCES[kind]
  // Draft 7: the draft the YAML language server (and so the editors' YAML support) validates with.
  const generated = tidy(z.toJSONSchema(schema, {io: 'input', target: 'draft-7'})) as JsonSchema
  if (kind === 'bundle') {
    const tool = (generated.properties as {tools: {items: JsonSchema}}).tools.items
    tool.oneOf = [{required: ['args']}, {required: ['parameters']}, {required: ['input_schema']}]
  }
  const {$schema, ...rest} = generated
  return {$schema, title, ...rest}
}

/** zod writes every int's safe-integer range as bounds; they say nothing to a reader and are dropped. */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy)
  if (value === null || typeof value !== 'object') return value
  const out: JsonSchema = {}
  for (const [k, v] of Object.entries(value)) {
    if ((k === 'minimum' || k === 'maximum') && (v === Number.MAX_SAFE_INTEGER || v === Number.MIN_SAFE_INTEGER)) continue
    out[k] = tidy(v)
  }
  return out
}

/** The committed file's text: two-space JSON and a final newline. */
export function configJsonSchemaText(kind: ConfigKind): string {
  return `${JSON.stringify(configJsonSchema(kind), null, 2)}\n`
}

type Row = {path: string; type: string; required: boolean; default: string; rules: string}

/** Every field of a config file as one table row, depth first, from its JSON Schema. */
function rows(schema: JsonSchema, at: string, required: boolean, out: Row[]): void {
  if (at !== '') out.push({path: at, type: typeText(schema), required, default: schema.default === undefined ? '' : `\`${JSON.stringify(schema.default)}\``, rules: rulesText(schema)})
  const props = schema.properties as Record<string, JsonSchema> | undefined
  if (props !== undefined) {
    const req = new Set((schema.required as string[] | undefined) ?? [])
    for (const [k, v] of Object.entries(props)) rows(v, at === '' ? k : `${at}.${k}`, req.has(k), out)
  }
  const items = schema.items as JsonSchema | undefined
  if (items !== undefined && (items.properties !== undefined || items.additionalProperties !== undefined)) rows(items, `${at}[]`, true, out)
  const values = schema.additionalProperties
  if (values !== undefined && values !== null && typeof values === 'object' && Object.keys(values).length > 0 && props === undefined) rows(values as JsonSchema, `${at}.<key>`, true, out)
  for (const branch of (schema.anyOf as JsonSchema[] | undefined) ?? []) if (branch.properties !== undefined) rows(branch, at, required, out)
}

function typeText(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return s.enum.map((e) => `\`${String(e)}\``).join(' \\| ')
  if (Array.isArray(s.anyOf)) return (s.anyOf as JsonSchema[]).map(typeText).join(' or ')
  if (s.type === 'array') return `list of ${s.items === undefined ? 'any' : typeText(s.items as JsonSchema)}`
  if (s.type === 'object' && s.properties === undefined) return 'mapping'
  return typeof s.type === 'string' ? s.type : 'any'
}

function rulesText(s: JsonSchema): string {
  const r: string[] = []
  if (s.minLength !== undefined) r.push(`≥ ${String(s.minLength)} chars`)
  if (s.maxLength !== undefined) r.push(`≤ ${String(s.maxLength)} chars`)
  if (s.pattern !== undefined) r.push(`matches \`${String(s.pattern).replace(/\|/g, '\\|')}\``)
  if (s.minimum !== undefined) r.push(`≥ ${String(s.minimum)}`)
  if (s.exclusiveMinimum !== undefined) r.push(`> ${String(s.exclusiveMinimum)}`)
  if (s.maximum !== undefined) r.push(`≤ ${String(s.maximum)}`)
  if (s.minItems !== undefined) r.push(`≥ ${String(s.minItems)} item(s)`)
  if (Array.isArray(s.oneOf)) r.push(`exactly one of ${(s.oneOf as {required: string[]}[]).map((b) => `\`${b.required.join()}\``).join(', ')}`)
  return r.join('; ')
}

/** docs/bundle-reference.md: every field of bundle.yaml and scenario.yaml, from the JSON Schemas above. */
export function referenceMarkdown(): string {
  const out = [
    '# Bundle and scenario reference',
    '',
    '<!-- Generated from the zod schemas (src/bundle/schema.ts, src/scenario/load.ts, src/tools/fixtures.ts) by `understudy schema bundle --format markdown`; test/init/json-schema.test.ts fails when it is out of date. Do not edit by hand. -->',
    '',
    'Every field `bundle.yaml`, `scenario.yaml` and `fixtures.yaml` accept, with its type, whether it is required, its default and its',
    'constraints. What the fields mean is in the README (bundle format, tool contracts, policy language); the JSON Schemas',
    'in `schemas/` are the same facts for editors (`# yaml-language-server: $schema=…`). Beyond these, `bundle validate`',
    'checks what spans fields (a policy naming a tool, write tools needing `idempotency: required`, argument schemas against',
    'their JSON Schema draft, CEL expressions).',
    '',
  ]
  for (const kind of CONFIG_KINDS) {
    out.push(`## ${kind}.yaml`, '', '| field | type | required | default | constraints |', '|---|---|---|---|---|')
    const list: Row[] = []
    rows(configJsonSchema(kind), '', true, list)
    for (const row of list) out.push(`| \`${row.path}\` | ${row.type} | ${row.required ? 'yes' : ''} | ${row.default} | ${row.rules} |`)
    out.push('')
  }
  return out.join('\n')
}
