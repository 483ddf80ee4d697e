import {describe, expect, it} from 'vitest'
import {ToolContract, type ArgSchema} from '../../src/bundle/schema.js'
import {compiledArgSchema} from '../../src/bundle/arg-schema.js'
import {compileArgValidator, formatArgIssue, formatArgIssues, toToolSpec} from '../../src/tools/contract.js'

const refundArgs: ArgSchema = {
  type: 'object',
  properties: {
    order_id: {type: 'string', pattern: '^ORD-\\d{6}$'},
    amount: {type: 'number', minimum: 1, maximum: 500},
    reason: {type: 'string', minLength: 3, maxLength: 20},
    to: {type: 'string', pattern: '^[^@]+@example\\.com$'},
    channel: {type: 'string', enum: ['chat', 'email']},
    count: {type: 'integer'},
    notify: {type: 'boolean'},
    items: {
      type: 'array',
      maxItems: 2,
      items: {type: 'object', properties: {sku: {type: 'string', minLength: 2}, qty: {type: 'integer', minimum: 1}}, required: ['sku']},
    },
  },
  required: ['order_id', 'amount', 'reason'],
}

const messages = (schema: ArgSchema, args: unknown) => compileArgValidator(schema)(args).map(formatArgIssue)

describe('compileArgValidator', () => {
  const validate = compileArgValidator(refundArgs)

  it('accepts valid arguments', () => {
    expect(validate({order_id: 'ORD-100234', amount: 500, reason: 'damaged', items: [{sku: 'A1', qty: 2}]})).toEqual([])
  })

  it('reports every issue at once, each with its argument path and the keyword it breaks', () => {
    const issues = validate({order_id: 'ORD-1', amount: 750, to: 'x@evil.com', channel: 'fax', count: 1.5, notify: 'yes', items: [{qty: 0}, {sku: 'B'}, {sku: 'CC'}]})
    expect(issues.map(formatArgIssue)).toEqual([
      'reason: required',
      'order_id: pattern: must match ^ORD-\\d{6}$ (got "ORD-1")',
      'amount: maximum: must be <= 500 (got 750)',
      'to: pattern: must match ^[^@]+@example\\.com$ (got "x@evil.com")',
      'channel: enum: must be one of chat, email (got "fax")',
      'count: type: must be integer (got number)',
      'notify: type: must be boolean (got string)',
      'items: maxItems: must NOT have more than 2 items (got [{"qty":0},{"sku":"B"},{"sku":"CC"}])',
      'items.0.sku: required',
      'items.0.qty: minimum: must be >= 1 (got 0)',
      'items.1.sku: minLength: must NOT have fewer than 2 characters (got "B")',
    ])
    expect(issues.find((i) => i.path === 'items.0.qty')).toEqual({path: 'items.0.qty', keyword: 'minimum', message: 'minimum: must be >= 1 (got 0)'})
  })

  it('checks min and max length in characters, not UTF-16 units', () => {
    const s: ArgSchema = {type: 'string', minLength: 2, maxLength: 3}
    expect(messages(s, 'ab')).toEqual([])
    expect(messages(s, 'a')).toEqual(['minLength: must NOT have fewer than 2 characters (got "a")'])
    expect(messages(s, 'abcd')).toEqual(['maxLength: must NOT have more than 3 characters (got "abcd")'])
    expect(messages(s, '😀😀😀')).toEqual([])
    expect(messages(s, '😀')).toEqual(['minLength: must NOT have fewer than 2 characters (got "😀")'])
  })

  it('checks number bounds (inclusive and exclusive) and rejects non-finite numbers', () => {
    const s: ArgSchema = {type: 'number', minimum: 0, maximum: 10}
    expect(messages(s, 0)).toEqual([])
    expect(messages(s, 10)).toEqual([])
    expect(messages(s, -0.5)).toEqual(['minimum: must be >= 0 (got -0.5)'])
    expect(messages(s, 10.01)).toEqual(['maximum: must be <= 10 (got 10.01)'])
    expect(messages(s, Number.NaN)).not.toEqual([])
    expect(messages({type: 'number', exclusiveMaximum: 10}, 10)).toEqual(['exclusiveMaximum: must be < 10 (got 10)'])
    expect(messages({type: 'integer'}, 3)).toEqual([])
    expect(messages({type: 'integer'}, '3')).toEqual(['type: must be integer (got string)'])
  })

  it('checks formats with ajv-formats', () => {
    const email: ArgSchema = {type: 'string', format: 'email'}
    expect(messages(email, 'jo@example.com')).toEqual([])
    expect(messages(email, 'jo example.com')).toEqual(['format: must be an email address (got "jo example.com")'])
    const uri: ArgSchema = {type: 'string', format: 'uri'}
    expect(messages(uri, 'https://example.com/a?b=1')).toEqual([])
    expect(messages(uri, 'mailto:jo@example.com')).toEqual([])
    expect(messages(uri, 'example.com/path')).toEqual(['format: must be a URI (got "example.com/path")'])
    const dt: ArgSchema = {type: 'string', format: 'date-time'}
    expect(messages(dt, '2024-05-01T10:00:00Z')).toEqual([])
    expect(messages(dt, '2024-05-01T10:00:00.123+02:00')).toEqual([])
    expect(messages(dt, '2024-02-30T10:00:00Z')).toEqual(['format: must be an RFC 3339 date-time (got "2024-02-30T10:00:00Z")'])
    expect(messages(dt, '2024-05-01')).toHaveLength(1)
    expect(messages(dt, '2024-05-01T25:00:00Z')).toHaveLength(1)
    expect(messages({type: 'string', format: 'uuid'}, 'not-a-uuid')).toEqual(['format: must be a UUID (got "not-a-uuid")'])
  })

  it('checks enums and const of any type', () => {
    expect(messages({type: 'integer', enum: [1, 2, 3]}, 2)).toEqual([])
    expect(messages({type: 'integer', enum: [1, 2, 3]}, 4)).toEqual(['enum: must be one of 1, 2, 3 (got 4)'])
    expect(messages({const: 'x'}, 'y')).toEqual(['const: must be equal to constant (got "y")'])
  })

  it('allows unknown fields unless additionalProperties is false', () => {
    const open: ArgSchema = {type: 'object', properties: {a: {type: 'string'}}}
    expect(messages(open, {a: 'x', extra: 1})).toEqual([])
    expect(messages({...open, additionalProperties: true}, {a: 'x', extra: 1})).toEqual([])
    expect(messages({...open, additionalProperties: false}, {a: 'x', extra: 1, more: 2})).toEqual([
      'extra: additionalProperties: is not an allowed field',
      'more: additionalProperties: is not an allowed field',
    ])
  })

  it('reports nested objects with dotted paths and stops at a wrong type', () => {
    const s: ArgSchema = {
      type: 'object',
      properties: {address: {type: 'object', properties: {zip: {type: 'string', pattern: '^\\d{5}$'}}, required: ['zip', 'city']}},
      required: ['address'],
    }
    expect(messages(s, {address: {zip: '1234'}})).toEqual(['address.city: required', 'address.zip: pattern: must match ^\\d{5}$ (got "1234")'])
    expect(messages(s, {address: 'Main St'})).toEqual(['address: type: must be object (got string)'])
    expect(messages(s, {address: null})).toEqual(['address: type: must be object (got null)'])
    expect(messages(s, [])).toEqual(['type: must be object (got array)'])
  })

  it('follows $ref into $defs and reports a failed anyOf once, not once per branch', () => {
    const s: ArgSchema = {
      type: 'object',
      $defs: {Line: {type: 'object', properties: {sku: {type: 'string'}}, required: ['sku']}},
      properties: {line: {$ref: '#/$defs/Line'}, note: {anyOf: [{type: 'string', maxLength: 3}, {type: 'null'}]}},
    }
    expect(messages(s, {line: {sku: 'A'}, note: null})).toEqual([])
    expect(messages(s, {line: {}, note: 'long'})).toEqual(['line.sku: required', 'note: anyOf: must match a schema in anyOf (got "long")'])
  })

  it('compiles a schema once, however many validators are asked for', () => {
    const schema: ArgSchema = {type: 'object', properties: {q: {type: 'string'}}}
    expect(compiledArgSchema(schema)).toBe(compiledArgSchema(structuredClone(schema)))
  })

  it('formats a list of issues on one line', () => {
    expect(formatArgIssues(compileArgValidator(refundArgs)({order_id: 'ORD-100234', amount: 750}))).toBe(
      'reason: required; amount: maximum: must be <= 500 (got 750)',
    )
  })
})

describe('toToolSpec', () => {
  it('passes the standard JSON Schema through to the model unchanged', () => {
    const tool = ToolContract.parse({
      name: 'issue_refund',
      description: 'Refund part or all of an order.',
      risk: 'write_high',
      roles: {'*': ['agent']},
      args: {
        type: 'object',
        properties: {
          order_id: {type: 'string', description: 'Order id', pattern: '^ORD-\\d{6}$', minLength: 10, maxLength: 10},
          amount: {type: 'number', minimum: 1, maximum: 500},
          to: {type: 'string', format: 'email'},
          lines: {type: 'array', maxItems: 5, items: {type: 'object', properties: {sku: {type: 'string', enum: ['A', 'B']}}, additionalProperties: false}},
        },
        required: ['order_id', 'amount'],
        additionalProperties: false,
      },
    })
    expect(toToolSpec(tool)).toEqual({
      type: 'function',
      function: {
        name: 'issue_refund',
        description: 'Refund part or all of an order.',
        parameters: {
          type: 'object',
          properties: {
            order_id: {type: 'string', description: 'Order id', pattern: '^ORD-\\d{6}$', minLength: 10, maxLength: 10},
            amount: {type: 'number', minimum: 1, maximum: 500},
            to: {type: 'string', format: 'email'},
            lines: {type: 'array', maxItems: 5, items: {type: 'object', properties: {sku: {type: 'string', enum: ['A', 'B']}}, additionalProperties: false}},
          },
          required: ['order_id', 'amount'],
          additionalProperties: false,
        },
      },
    })
  })
})
