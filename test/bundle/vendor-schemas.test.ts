import {afterEach, describe, expect, it} from 'vitest'
import {validateBundle} from '../../src/bundle/validate.js'
import {compileArgValidator, formatArgIssues} from '../../src/tools/contract.js'
import {bundleDir, removeTempDirs} from '../factories/index.js'

/**
 * Tool definitions pasted as their vendors write them load unchanged (#16). The shapes follow the
 * vendors' documented formats; the tools (a flight booking desk) are written here and belong to no
 * shipped scenario:
 * - OpenAI function calling, a tool's `function.parameters`:
 *   https://platform.openai.com/docs/guides/function-calling
 * - Anthropic tool use, a tool's `input_schema`:
 *   https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use
 * - pydantic v2 `BaseModel.model_json_schema()` (`title`, `default`, `$defs` + `$ref`, `anyOf` with
 *   `{type: null}` for Optional, `examples`): https://docs.pydantic.dev/latest/concepts/json_schema/
 */

afterEach(removeTempDirs)

const OPENAI_PARAMETERS = {
  type: 'object',
  properties: {
    flight: {type: 'string', description: 'Flight number, e.g. LH441'},
    cabin: {type: 'string', enum: ['economy', 'business']},
  },
  required: ['flight', 'cabin'],
  additionalProperties: false,
}

const ANTHROPIC_INPUT_SCHEMA = {
  type: 'object',
  properties: {
    booking_ref: {type: 'string', description: 'Six-letter booking reference', minLength: 6, maxLength: 6},
    reason: {type: 'string', description: 'Why the booking is cancelled'},
  },
  required: ['booking_ref'],
}

/** What pydantic v2 prints for `class BookFlight(BaseModel)` with an Optional field, a nested model and an Enum. */
const PYDANTIC_BOOK_FLIGHT = {
  $defs: {
    Passenger: {
      properties: {
        name: {maxLength: 80, title: 'Name', type: 'string'},
        age: {anyOf: [{maximum: 120, minimum: 0, type: 'integer'}, {type: 'null'}], default: null, title: 'Age'},
      },
      required: ['name'],
      title: 'Passenger',
      type: 'object',
    },
    Seat: {enum: ['window', 'aisle'], title: 'Seat', type: 'string'},
  },
  description: 'Book a seat on a flight.',
  properties: {
    flight: {examples: ['LH441'], pattern: '^[A-Z]{2}\\d{3,4}$', title: 'Flight', type: 'string'},
    passengers: {items: {$ref: '#/$defs/Passenger'}, maxItems: 9, minItems: 1, title: 'Passengers', type: 'array'},
    seat: {$ref: '#/$defs/Seat', default: 'aisle'},
    depart_on: {format: 'date', title: 'Depart On', type: 'string'},
    note: {anyOf: [{type: 'string'}, {type: 'null'}], default: null, title: 'Note'},
  },
  required: ['flight', 'passengers', 'depart_on'],
  title: 'BookFlight',
  type: 'object',
}

function tool(name: string, schemaKey: 'args' | 'parameters' | 'input_schema', schema: unknown) {
  return {name, description: `${name} at the flight desk`, risk: 'read', roles: {'*': ['agent']}, [schemaKey]: schema}
}

/** The base fixture with its tools replaced, written as JSON (how these definitions are pasted). */
function flightDesk(tools: unknown[]): string {
  return bundleDir(
    (m) => {
      m.tools = tools
      m.policies = []
      m.tenant_quotas = {}
    },
    {as: 'json'},
  )
}

describe('vendor tool definitions load as they are', () => {
  it('OpenAI parameters, Anthropic input_schema and pydantic model_json_schema(): zero problems, schema kept as args', async () => {
    const dir = flightDesk([
      tool('quote_fare', 'parameters', OPENAI_PARAMETERS),
      tool('cancel_booking', 'input_schema', ANTHROPIC_INPUT_SCHEMA),
      tool('book_flight', 'args', PYDANTIC_BOOK_FLIGHT),
    ])
    const r = await validateBundle(dir)
    expect(r.problems).toEqual([])
    const byName = new Map(r.bundle!.manifest.tools.map((t) => [t.name, t]))
    expect(byName.get('quote_fare')!.args).toEqual(OPENAI_PARAMETERS)
    expect(byName.get('cancel_booking')!.args).toEqual(ANTHROPIC_INPUT_SCHEMA)
    expect(Object.keys(byName.get('quote_fare')!)).not.toContain('parameters')
  })

  it('hashes a schema the same under args, parameters or input_schema', async () => {
    const hashes = await Promise.all(
      (['args', 'parameters', 'input_schema'] as const).map(async (key) => (await validateBundle(flightDesk([tool('quote_fare', key, OPENAI_PARAMETERS)]))).bundle!.hash),
    )
    expect(new Set(hashes).size).toBe(1)
  })

  it('validates calls against the pydantic schema through $ref, anyOf-null and formats', () => {
    const validate = compileArgValidator(PYDANTIC_BOOK_FLIGHT)
    expect(validate({flight: 'LH441', passengers: [{name: 'Ada', age: null}], depart_on: '2026-12-24', note: null})).toEqual([])
    expect(formatArgIssues(validate({flight: 'lh4', passengers: [{age: 130}], depart_on: '24/12/2026', seat: 'middle'}))).toBe(
      [
        'flight: pattern: must match ^[A-Z]{2}\\d{3,4}$ (got "lh4")',
        'passengers.0.name: required',
        'passengers.0.age: anyOf: must match a schema in anyOf (got 130)',
        'seat: enum: must be one of window, aisle (got "middle")',
        'depart_on: format: must be an RFC 3339 date (got "24/12/2026")',
      ].join('; '),
    )
  })

  it('refuses two schema keys on one tool, and none', async () => {
    const r = await validateBundle(
      flightDesk([{...tool('quote_fare', 'parameters', OPENAI_PARAMETERS), input_schema: ANTHROPIC_INPUT_SCHEMA}, {name: 'no_schema', description: 'd', risk: 'read', roles: {'*': ['agent']}}]),
    )
    const found = r.problems.map((p) => p.replace(/^.*bundle\.json:\d+:\d+: /, ''))
    expect(found).toHaveLength(2)
    expect(found[0]).toMatch(/^tools\.0\.input_schema: give the argument schema once: parameters and input_schema are both set/)
    expect(found[1]).toBe('tools.1.args: missing required field: the argument schema (args, or parameters / input_schema as OpenAI and Anthropic write it)')
  })

  it('reads draft-07 when $schema says so, and refuses a draft it does not know', async () => {
    const draft7 = {$schema: 'http://json-schema.org/draft-07/schema#', ...OPENAI_PARAMETERS, definitions: {Code: {type: 'string'}}}
    expect((await validateBundle(flightDesk([tool('quote_fare', 'args', draft7)]))).problems).toEqual([])
    const r = await validateBundle(flightDesk([tool('quote_fare', 'args', {...OPENAI_PARAMETERS, $schema: 'http://json-schema.org/draft-04/schema#'})]))
    expect(r.problems).toHaveLength(1)
    expect(r.problems[0]).toMatch(/tools\.0\.args\.\$schema: unsupported \$schema "http:\/\/json-schema\.org\/draft-04\/schema#"/)
  })
})

describe('what ajv itself refuses is reported too', () => {
  it('a $ref to a schema that is not in the bundle: one located line, not a crash', async () => {
    const schema = {...OPENAI_PARAMETERS, properties: {...OPENAI_PARAMETERS.properties, airport: {$ref: 'https://example.com/airport.json'}}}
    const r = await validateBundle(flightDesk([tool('quote_fare', 'parameters', schema)]))
    expect(r.problems).toHaveLength(1)
    expect(r.problems[0]).toMatch(/bundle\.json:\d+:\d+: tools\.0\.parameters: cannot compile: can't resolve reference https:\/\/example\.com\/airport\.json/)
  })
})

describe('constraints a model served by Ollama never sees (#23)', () => {
  const ollamaDesk = (model: Record<string, unknown>) =>
    bundleDir(
      (m) => {
        m.model = {...m.model, provider: 'ollama', name: 'qwen3:8b', ...model}
        m.tools = [tool('book_flight', 'parameters', PYDANTIC_BOOK_FLIGHT), tool('quote_fare', 'parameters', OPENAI_PARAMETERS)]
        m.policies = []
        m.tenant_quotas = {}
      },
      {as: 'json'},
    )

  it('warns once per dropped constraint, located at the keyword; the bundle still loads', async () => {
    const r = await validateBundle(ollamaDesk({}))
    expect(r.problems).toEqual([])
    expect(r.bundle).not.toBeNull()
    const at = r.warnings.map((w) => w.replace(/^.*bundle\.json:\d+:\d+: /, '').replace(/: warning: .*$/, ''))
    expect(at).toEqual([
      'tools.0.parameters.properties.flight.pattern',
      'tools.0.parameters.properties.passengers.maxItems',
      'tools.0.parameters.properties.passengers.minItems',
      'tools.0.parameters.properties.seat.$ref',
      'tools.0.parameters.properties.depart_on.format',
      'tools.1.parameters.additionalProperties',
    ])
    expect(r.warnings[0]).toMatch(/warning: Ollama does not show pattern to the model \(it keeps only anyOf, type, items, description, enum, properties, required\); the contract still enforces it/)
  })

  it('says nothing for the scripted model, or when describe_constraints puts them in the descriptions; left out, the hash is unchanged', async () => {
    const scripted = await validateBundle(bundleDir((m) => (m.tools = [tool('book_flight', 'parameters', PYDANTIC_BOOK_FLIGHT)])))
    expect(scripted.warnings).toEqual([])
    const described = await validateBundle(ollamaDesk({describe_constraints: true}))
    expect(described.warnings).toEqual([])
    expect(described.bundle!.hash).not.toBe((await validateBundle(ollamaDesk({}))).bundle!.hash)
    expect((await validateBundle(ollamaDesk({describe_constraints: false}))).bundle!.hash).not.toBe((await validateBundle(ollamaDesk({}))).bundle!.hash)
  })
})
