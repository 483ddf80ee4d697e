import {readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {validateBundle} from '../../src/bundle/validate.js'
import {bundleDir, removeTempDirs} from '../factories/index.js'
import {fieldPathsOnly} from '../helpers/problem-positions.js'

afterEach(removeTempDirs)

/** The problems of a bundle, with `F:` standing for its manifest path. */
async function problems(dir: string): Promise<string[]> {
  const r = await validateBundle(dir)
  const file = path.join(dir, 'bundle.yaml')
  if (r.problems.length === 0) expect(r.bundle).not.toBeNull()
  else expect(r.bundle).toBeNull()
  return fieldPathsOnly(file, r.problems)
    .map((p) => (p.startsWith(file + ':') ? 'F:' + p.slice(file.length + 1) : p))
    .sort()
}

describe('cross-checks: templates', () => {
  it('accepts the base fixture (no false positives)', async () => {
    expect(await problems(bundleDir(() => {}))).toEqual([])
  })

  it('reports a missing template file at prompts.<slot>', async () => {
    const dir = bundleDir((m) => {
      m.prompts.plan = 'prompts/nope.md'
    })
    expect(await problems(dir)).toEqual([`F:prompts.plan: template file "prompts/nope.md" not found in ${dir}`])
  })

  it('reports a template that is a directory', async () => {
    const dir = bundleDir((m) => {
      m.prompts.plan = 'prompts'
    })
    expect(await problems(dir)).toEqual(['F:prompts.plan: template "prompts" is a directory, not a file'])
  })

  it('refuses templates outside the bundle dir, by ../, absolute path or symlink', async () => {
    const dir = bundleDir((m) => {
      m.prompts.system = '../outside.md'
      m.prompts.plan = '/etc/hostname'
    })
    writeFileSync(path.join(dir, '..', 'outside.md'), 'hello {{user}}\n')
    expect(await problems(dir)).toEqual([
      'F:prompts.plan: template "/etc/hostname" is outside the bundle directory',
      'F:prompts.system: template "../outside.md" is outside the bundle directory',
    ])

    const linked = bundleDir((m) => {
      m.prompts.system = 'prompts/link.md'
    })
    writeFileSync(path.join(linked, '..', 'secret.md'), 'hello\n')
    symlinkSync(path.join(linked, '..', 'secret.md'), path.join(linked, 'prompts', 'link.md'))
    expect(await problems(linked)).toEqual(['F:prompts.system: template "prompts/link.md" links outside the bundle directory'])
  })

  it('reports unknown template variables with their line, and accepts known ones with spaces', async () => {
    const dir = bundleDir(() => {})
    writeFileSync(path.join(dir, 'prompts', 'system.md'), 'Hi {{ user }} of {{tenant}}.\nYour order: {{order_id}}\n{{tools}} {{date}} {{role}}\n')
    expect(await problems(dir)).toEqual([
      'F:prompts.system: unknown template variable {{order_id}} at prompts/system.md:2 (known: tenant, user, role, date, tools)',
    ])
  })
})

describe('cross-checks: tools', () => {
  it('reports duplicate tool names', async () => {
    const dir = bundleDir((m) => {
      m.tools.push({...m.tools[0]})
    })
    expect(await problems(dir)).toEqual(['F:tools.2.name: duplicate tool name "lookup_order" (first at tools.0)'])
  })

  it('requires an object schema at the args root', async () => {
    const dir = bundleDir((m) => {
      m.tools[0].args = {type: 'string'}
    })
    expect(await problems(dir)).toEqual(['F:tools.0.args.type: tool arguments must be an object schema: type: object (got "string")'])
  })

  it('reports required names missing from properties, at any depth', async () => {
    const dir = bundleDir((m) => {
      m.tools[0].args.required = ['order_id', 'customer']
      m.tools[1].args.properties.address = {type: 'object', properties: {city: {type: 'string'}}, required: ['zip']}
    })
    expect(await problems(dir)).toEqual([
      'F:tools.0.args.required.1: "customer" is required but not defined in properties',
      'F:tools.1.args.properties.address.required.0: "zip" is required but not defined in properties',
    ])
  })

  it('reports sensitive_fields that are not argument paths, and accepts nested and array paths', async () => {
    const dir = bundleDir((m) => {
      m.tools[1].args.properties.card = {type: 'object', properties: {number: {type: 'string'}}}
      m.tools[1].args.properties.lines = {type: 'array', items: {type: 'object', properties: {sku: {type: 'string'}}}}
      m.tools[1].sensitive_fields = ['note', 'card.number', 'lines.*.sku', 'card.cvv', 'note.x']
    })
    expect(await problems(dir)).toEqual([
      'F:tools.1.sensitive_fields.3: "card.cvv" is not a field of args',
      'F:tools.1.sensitive_fields.4: "note.x" is not a field of args',
    ])
  })

  it('requires idempotency: required on write tools', async () => {
    const dir = bundleDir((m) => {
      delete m.tools[1].idempotency
      m.tools.push({...m.tools[0], name: 'update_address', risk: 'write_low', idempotency: 'none'})
    })
    expect(await problems(dir)).toEqual([
      'F:tools.1.idempotency: write tools (risk write_high) must set idempotency: required, or idempotency: none with retry: confirm',
      'F:tools.2.idempotency: write tools (risk write_low) must set idempotency: required, or idempotency: none with retry: confirm',
    ])
  })

  it('reports minimum > maximum and minLength > maxLength', async () => {
    const dir = bundleDir((m) => {
      m.tools[1].args.properties.amount.minimum = 600
      m.tools[1].args.properties.note.minLength = 300
    })
    expect(await problems(dir)).toEqual([
      'F:tools.1.args.properties.amount.maximum: maximum 500 is less than minimum 600',
      'F:tools.1.args.properties.note.maxLength: maxLength 200 is less than minLength 300',
    ])
  })

  it('reports keywords on a type they do not apply to, and enum values of the wrong type', async () => {
    const dir = bundleDir((m) => {
      m.tools[1].args.properties.amount.maxLength = 5
      m.tools[1].args.properties.note.enum = ['a', 3]
      m.tools[1].args.properties.order_id.items = {type: 'string'}
    })
    expect(await problems(dir)).toEqual([
      'F:tools.1.args.properties.amount.maxLength: only applies to type string, not "number"',
      'F:tools.1.args.properties.note.enum.1: 3 is not a valid string',
      'F:tools.1.args.properties.order_id.items: only applies to type array, not "string"',
    ])
  })

  it('reports every JSON Schema problem at once, located at the keyword, with the standard spelling of a snake_case keyword', async () => {
    const dir = bundleDir((m) => {
      m.tools[0].args.properties.order_id.max_length = 5
      m.tools[0].args.properties.order_id.pattern = '(['
      m.tools[0].args.properties.order_id.title = 'Order'
      m.tools[0].args.properties.order_id.examples = ['ORD-000001']
      m.tools[1].args.properties.amount.maximum = '500'
      m.tools[1].args.properties.amount.minItems = -1
      m.tools[1].args.properties.note.type = 'text'
      m.tools[1].args.properties.note.$ref = '#/$defs/Missing'
      m.tools[0].risk = 'delete'
    })
    expect(await problems(dir)).toEqual([
      'F:tools.0.args.properties.order_id.max_length: unknown JSON Schema keyword "max_length" (did you mean maxLength?)',
      'F:tools.0.args.properties.order_id.pattern: is not a valid regular expression: /([/u: Unterminated character class',
      'F:tools.0.risk: must be one of "read", "write_low", "write_high" (got "delete")',
      'F:tools.1.args.properties.amount.maximum: must be number',
      'F:tools.1.args.properties.amount.minItems: must be >= 0',
      'F:tools.1.args.properties.amount.minItems: only applies to type array, not "number"',
      'F:tools.1.args.properties.note.$ref: "#/$defs/Missing" points to nothing in this schema',
      'F:tools.1.args.properties.note.type: must be one of "array", "boolean", "integer", "null", "number", "object", "string", or must be array',
    ])
  })

  it('accepts escalates as a boolean on a tool contract, and nothing else', async () => {
    expect(await problems(bundleDir((m) => (m.tools[1].escalates = true)))).toEqual([])
    expect(await problems(bundleDir((m) => (m.tools[1].escalates = 'yes')))).toEqual(['F:tools.1.escalates: expected boolean, received string'])
  })

  it('still cross-checks the parts that parsed when another part does not', async () => {
    const dir = bundleDir((m) => {
      m.tools[0].risk = 'delete'
      m.policies[0].tools = ['issue_refund', 'wire_money']
      m.budgets.max_steps = 'eight'
    })
    expect(await problems(dir)).toEqual([
      'F:budgets.max_steps: expected number, received string',
      'F:policies.0.tools.1: unknown tool "wire_money"',
      'F:tools.0.risk: must be one of "read", "write_low", "write_high" (got "delete")',
    ])
  })
})

describe('cross-checks: policies', () => {
  it('reports duplicate policy ids', async () => {
    const dir = bundleDir((m) => {
      m.policies.push({...m.policies[0]})
    })
    expect(await problems(dir)).toEqual(['F:policies.2.id: duplicate policy id "refund-limit" (first at policies.0)'])
  })

  it('reports unknown tools in a policy selector', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].tools = ['issue_refund', 'wire_money']
    })
    expect(await problems(dir)).toEqual(['F:policies.0.tools.1: unknown tool "wire_money"'])
  })

  it('reports condition fields outside the policy context', async () => {
    const dir = bundleDir((m) => {
      m.policies[1].when = [
        {field: 'weather', op: 'eq', value: 'rain'},
        {field: 'args.', op: 'exists'},
        {field: 'signals.injection_in_input', op: 'eq', value: true},
        {field: 'tool_calls', op: 'gte', value: 3},
      ]
    })
    expect(await problems(dir)).toEqual([
      'F:policies.1.when.0.field: unknown field "weather" (expected tool, risk, tenant, user, role, step, tool_calls, args.<path> or signals.<name>)',
      'F:policies.1.when.1.field: "args." is not a valid path',
    ])
  })

  it('reports args.* conditions on a field no targeted tool has', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].when[0].field = 'args.amount_usd'
      // Untargeted rule: a field on any tool is fine; a field on none is not.
      m.policies.push({id: 'notes', effect: 'deny', reason: 'NOTE', when: [{field: 'args.note', op: 'exists'}, {field: 'args.zip', op: 'exists'}]})
      // Risk-selected rule: only write tools are targets, so a field only the read tool has is an error.
      m.tools[0].args.properties.include_history = {type: 'boolean'}
      m.policies[1].when.push({field: 'args.order_id', op: 'exists'}, {field: 'args.include_history', op: 'exists'})
    })
    expect(await problems(dir)).toEqual([
      'F:policies.0.when.0.field: no targeted tool has argument "amount_usd" (targets: issue_refund)',
      'F:policies.1.when.2.field: no targeted tool has argument "include_history" (targets: issue_refund)',
      'F:policies.2.when.1.field: no targeted tool has argument "zip" (targets: lookup_order, issue_refund)',
    ])
  })

  it('checks condition values against their operator', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].when = [
        {field: 'args.amount', op: 'gt', value: '100'},
        {field: 'args.amount', op: 'lte'},
        {field: 'tenant', op: 'in', value: 'acme'},
        {field: 'tenant', op: 'not_in', value: ['acme']},
        {field: 'args.note', op: 'matches', value: '(unclosed'},
        {field: 'args.note', op: 'not_matches', value: 5},
        {field: 'args.note', op: 'exists', value: true},
        {field: 'user', op: 'eq'},
      ]
    })
    const got = await problems(dir)
    expect(got).toHaveLength(7)
    expect(got).toEqual(
      expect.arrayContaining([
        'F:policies.0.when.0.value: gt needs a number, got "100"',
        'F:policies.0.when.1.value: lte needs a number, got nothing',
        'F:policies.0.when.2.value: in needs an array, got "acme"',
        'F:policies.0.when.5.value: not_matches needs a regular expression string, got 5',
        'F:policies.0.when.6.value: exists takes no value',
        'F:policies.0.when.7.value: missing required field: eq needs a value',
      ]),
    )
    expect(got.find((p) => p.startsWith('F:policies.0.when.4.value:'))).toMatch(/^F:policies\.0\.when\.4\.value: not a valid regular expression: .+/)
  })

  it('checks tool and risk condition values against the bundle', async () => {
    const dir = bundleDir((m) => {
      m.policies.push({
        id: 'odd',
        effect: 'deny',
        reason: 'ODD',
        when: [
          {field: 'tool', op: 'eq', value: 'wire_money'},
          {field: 'risk', op: 'in', value: ['read', 'write']},
          {field: 'tool', op: 'ne', value: 'lookup_order'},
        ],
      })
    })
    expect(await problems(dir)).toEqual([
      'F:policies.2.when.0.value: unknown tool "wire_money"',
      'F:policies.2.when.1.value: unknown risk "write"',
    ])
  })

  it('reports policy tenants that no tool grants a role to (only when no tool grants "*")', async () => {
    const rule = {id: 'initech', effect: 'deny', reason: 'NO', tenants: ['acme', 'initech']}
    const granted = bundleDir((m) => {
      m.policies.push(rule)
    })
    expect(await problems(granted)).toEqual([])
    const dir = bundleDir((m) => {
      m.tools[0].roles = {acme: ['agent']}
      m.policies.push(rule)
    })
    expect(await problems(dir)).toEqual([
      'F:policies.2.tenants.1: no tool grants tenant "initech" any role, so this rule can never fire for it',
    ])
  })
})

describe('cross-checks: budgets, quotas, guardrails, retrieval, memory', () => {
  it('rejects negative and non-integer budgets', async () => {
    const dir = bundleDir((m) => {
      m.budgets.max_tool_calls = -2
      m.budgets.max_total_tokens = 10.5
      m.budgets.max_cost_usd = -1
    })
    expect(await problems(dir)).toEqual([
      'F:budgets.max_cost_usd: must be >= 0 (got -1)',
      'F:budgets.max_tool_calls: must be >= 0 (got -2)',
      'F:budgets.max_total_tokens: expected an integer, received number 10.5',
    ])
  })

  it('reports tenant quotas for tenants no tool serves', async () => {
    const dir = bundleDir((m) => {
      m.tools[0].roles = {acme: ['agent'], globex: ['agent']}
      m.tenant_quotas.initech = {max_requests_per_minute: 5}
      m.tenant_quotas['*'] = {max_requests_per_minute: 100}
    })
    expect(await problems(dir)).toEqual([
      'F:tenant_quotas.initech: no tool grants tenant "initech" any role, so this quota can never apply',
    ])
  })

  it('reports guardrail patterns that are not valid regular expressions', async () => {
    const dir = bundleDir((m) => {
      m.guardrails = {injection_patterns: ['ignore (all|previous) instructions', 'ignore (previous'], forbidden_output_patterns: ['[']}
    })
    const got = await problems(dir)
    expect(got).toHaveLength(2)
    expect(got[0]).toMatch(/^F:guardrails\.forbidden_output_patterns\.0: not a valid regular expression: /)
    expect(got[1]).toMatch(/^F:guardrails\.injection_patterns\.1: not a valid regular expression: /)
  })

  it('reports chunk overlap not smaller than size, and fixed chunking without a size', async () => {
    const dir = bundleDir((m) => {
      m.retrieval = {index: 'kb', embedding_version: 'e1', chunking: {strategy: 'sentence', size: 200, overlap: 200}}
    })
    expect(await problems(dir)).toEqual(['F:retrieval.chunking.overlap: overlap 200 must be smaller than size 200'])
    const fixed = bundleDir((m) => {
      m.retrieval = {index: 'kb', embedding_version: 'e1', chunking: {strategy: 'fixed'}}
    })
    expect(await problems(fixed)).toEqual(['F:retrieval.chunking.size: missing required field: strategy "fixed" needs a size'])
  })

  it('reports duplicate memory fields and owners not listed in memory.owners', async () => {
    const dir = bundleDir((m) => {
      m.memory = {
        default_ttl_seconds: 3600,
        owners: ['crm'],
        fields: [
          {key: 'plan', type: 'string', owner: 'crm'},
          {key: 'plan', type: 'string', owner: 'billing'},
        ],
      }
    })
    expect(await problems(dir)).toEqual([
      'F:memory.fields.1.key: duplicate memory field "plan" (first at memory.fields.0)',
      'F:memory.fields.1.owner: owner "billing" is not listed in memory.owners (crm)',
    ])
  })
})

describe('cross-checks: policy expressions', () => {
  /** `LINE:COL` where `needle` starts in the manifest, found by reading the file as text. */
  const at = (dir: string, needle: string, file = 'bundle.yaml') => {
    const lines = readFileSync(path.join(dir, file), 'utf8').split('\n')
    const line = lines.findIndex((l) => l.includes(needle))
    return `${line + 1}:${lines[line]!.indexOf(needle) + 1}`
  }

  it('locates a syntax error, an unknown variable and a type error at the character, in YAML and JSON', async () => {
    const mutate = (m: Record<string, any>) => {
      m.policies[0].if = 'args.amount > 100 && history.exists(c, c.nme == "x")'
      m.policies[1].if = 'args.total >'
      m.tools[0].budget = {max_calls_per_request: 1, per: 'argz.order_id'}
    }
    const dir = bundleDir(mutate)
    expect(await problems(dir)).toEqual([
      `F:${at(dir, 'nme ==')}: policies.0.if: No such key: nme`,
      `F:${at(dir, "argz")}: tools.0.budget.per: Unknown variable: argz`,
      // The parser stops at the end of the text, one past the last character.
      `F:${at(dir, 'args.total >').replace(/:(\d+)$/, (_, c) => `:${Number(c) + 12}`)}: policies.1.if: Unexpected token: EOF`,
    ].sort())
    const json = bundleDir(mutate, {as: 'json'})
    const jsonProblems = (await validateBundle(json)).problems
    expect(jsonProblems).toContain(`${path.join(json, 'bundle.json')}:${at(json, 'argz', 'bundle.json')}: tools.0.budget.per: Unknown variable: argz`)
  })

  it('locates a problem inside a block scalar on its own line', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].if = 'has(args.amount)\n  && tool.name > 3\n'
    })
    const text = readFileSync(path.join(dir, 'bundle.yaml'), 'utf8')
    expect(text).toContain('|')
    expect(await problems(dir)).toEqual([`F:${at(dir, 'tool.name > 3')}: policies.0.if: no such overload: string > int`])
  })

  it('accepts valid expressions', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].if = '!history.exists(c, c.name == "lookup_order" && c.error == null) || "order_id" in taint'
      m.tools[0].rate_limits = {per_user_per_minute: 2, per: 'args.order_id'}
    })
    expect(await problems(dir)).toEqual([])
  })
})
