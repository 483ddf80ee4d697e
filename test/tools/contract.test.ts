import {describe, expect, it} from 'vitest'
import {ToolContract, type ArgSchema} from '../../src/bundle/schema.js'
import {compileArgValidator, formatArgIssue, formatArgIssues, toToolSpec} from '../../src/tools/contract.js'

const refundArgs: ArgSchema = {
  type: 'object',
  properties: {
    order_id: {type: 'string', pattern: '^ORD-\\d{6}$'},
    amount: {type: 'number', minimum: 1, maximum: 500},
    reason: {type: 'string', min_length: 3, max_length: 20},
    to: {type: 'string', pattern: '^[^@]+@example\\.com$'},
    channel: {type: 'string', enum: ['chat', 'email']},
    count: {type: 'integer'},
    notify: {type: 'boolean'},
    items: {
      type: 'array',
      max_items: 2,
      items: {type: 'object', properties: {sku: {type: 'string', min_length: 2}, qty: {type: 'integer', minimum: 1}}, required: ['sku']},
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

  it('reports every issue at once, with paths and readable messages', () => {
    const issues = validate({order_id: 'ORD-1', amount: 750, to: 'x@evil.com', channel: 'fax', count: 1.5, notify: 'yes', items: [{qty: 0}, {sku: 'B'}, {sku: 'CC'}]})
    expect(issues.map(formatArgIssue)).toEqual([
      'reason: required',
      'order_id: must match ^ORD-\\d{6}$',
      'amount: must be ≤ 500 (got 750)',
      'to: must match ^[^@]+@example\\.com$',
      'channel: must be one of chat, email (got "fax")',
      'count: must be an integer (got number)',
      'notify: must be a boolean (got string)',
      'items: must have at most 2 items (got 3)',
      'items.0.sku: required',
      'items.0.qty: must be ≥ 1 (got 0)',
      'items.1.sku: must be at least 2 characters (got 1)',
    ])
    expect(issues.find((i) => i.path === 'items.0.qty')).toEqual({path: 'items.0.qty', message: 'must be ≥ 1 (got 0)'})
  })

  it('checks min and max length in characters, not UTF-16 units', () => {
    const s: ArgSchema = {type: 'string', min_length: 2, max_length: 3}
    expect(messages(s, 'ab')).toEqual([])
    expect(messages(s, 'a')).toEqual(['must be at least 2 characters (got 1)'])
    expect(messages(s, 'abcd')).toEqual(['must be at most 3 characters (got 4)'])
    expect(messages(s, '😀😀😀')).toEqual([])
    expect(messages(s, '😀')).toEqual(['must be at least 2 characters (got 1)'])
  })

  it('checks number bounds inclusively and rejects non-finite numbers', () => {
    const s: ArgSchema = {type: 'number', minimum: 0, maximum: 10}
    expect(messages(s, 0)).toEqual([])
    expect(messages(s, 10)).toEqual([])
    expect(messages(s, -0.5)).toEqual(['must be ≥ 0 (got -0.5)'])
    expect(messages(s, 10.01)).toEqual(['must be ≤ 10 (got 10.01)'])
    expect(messages(s, Number.NaN)).toEqual(['must be a number (got NaN)'])
    expect(messages({type: 'integer'}, 3)).toEqual([])
    expect(messages({type: 'integer'}, '3')).toEqual(['must be an integer (got string)'])
  })

  it('checks formats', () => {
    const email: ArgSchema = {type: 'string', format: 'email'}
    expect(messages(email, 'jo@example.com')).toEqual([])
    expect(messages(email, 'jo@example')).toEqual(['must be an email address'])
    expect(messages(email, 'jo example.com')).toEqual(['must be an email address'])
    const uri: ArgSchema = {type: 'string', format: 'uri'}
    expect(messages(uri, 'https://example.com/a?b=1')).toEqual([])
    expect(messages(uri, 'mailto:jo@example.com')).toEqual([])
    expect(messages(uri, 'example.com/path')).toEqual(['must be a URI'])
    const dt: ArgSchema = {type: 'string', format: 'date-time'}
    expect(messages(dt, '2024-05-01T10:00:00Z')).toEqual([])
    expect(messages(dt, '2024-05-01T10:00:00.123+02:00')).toEqual([])
    expect(messages(dt, '2024-02-30T10:00:00Z')).toEqual(['must be an RFC 3339 date-time'])
    expect(messages(dt, '2024-05-01')).toEqual(['must be an RFC 3339 date-time'])
    expect(messages(dt, '2024-05-01T25:00:00Z')).toEqual(['must be an RFC 3339 date-time'])
  })

  it('checks enums of any primitive type', () => {
    expect(messages({type: 'integer', enum: [1, 2, 3]}, 2)).toEqual([])
    expect(messages({type: 'integer', enum: [1, 2, 3]}, 4)).toEqual(['must be one of 1, 2, 3 (got 4)'])
  })

  it('allows unknown fields unless additional_properties is false', () => {
    const open: ArgSchema = {type: 'object', properties: {a: {type: 'string'}}}
    expect(messages(open, {a: 'x', extra: 1})).toEqual([])
    expect(messages({...open, additional_properties: true}, {a: 'x', extra: 1})).toEqual([])
    expect(messages({...open, additional_properties: false}, {a: 'x', extra: 1, more: 2})).toEqual([
      'extra: is not an allowed field',
      'more: is not an allowed field',
    ])
  })

  it('reports nested objects with dotted paths and stops at a wrong type', () => {
    const s: ArgSchema = {
      type: 'object',
      properties: {address: {type: 'object', properties: {zip: {type: 'string', pattern: '^\\d{5}$'}}, required: ['zip', 'city']}},
      required: ['address'],
    }
    expect(messages(s, {address: {zip: '1234'}})).toEqual(['address.city: required', 'address.zip: must match ^\\d{5}$'])
    expect(messages(s, {address: 'Main St'})).toEqual(['address: must be an object (got string)'])
    expect(messages(s, {address: null})).toEqual(['address: must be an object (got null)'])
    expect(messages(s, [])).toEqual(['must be an object (got array)'])
    expect(messages(s, undefined)).toEqual(['must be an object (got undefined)'])
  })

  it('formats a list of issues on one line', () => {
    expect(formatArgIssues(compileArgValidator(refundArgs)({order_id: 'ORD-100234', amount: 750}))).toBe(
      'reason: required; amount: must be ≤ 500 (got 750)',
    )
  })
})

describe('toToolSpec', () => {
  it('translates the contract into a JSON Schema function spec', () => {
    const tool = ToolContract.parse({
      name: 'issue_refund',
      description: 'Refund part or all of an order.',
      risk: 'write_high',
      roles: {'*': ['agent']},
      args: {
        type: 'object',
        properties: {
          order_id: {type: 'string', description: 'Order id', pattern: '^ORD-\\d{6}$', min_length: 10, max_length: 10},
          amount: {type: 'number', minimum: 1, maximum: 500},
          to: {type: 'string', format: 'email'},
          lines: {type: 'array', max_items: 5, items: {type: 'object', properties: {sku: {type: 'string', enum: ['A', 'B']}}, additional_properties: false}},
        },
        required: ['order_id', 'amount'],
        additional_properties: false,
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
            order_id: {type: 'string', description: 'Order id', minLength: 10, maxLength: 10, pattern: '^ORD-\\d{6}$'},
            amount: {type: 'number', minimum: 1, maximum: 500},
            to: {type: 'string', format: 'email'},
            lines: {
              type: 'array',
              items: {type: 'object', properties: {sku: {type: 'string', enum: ['A', 'B']}}, additionalProperties: false},
              maxItems: 5,
            },
          },
          required: ['order_id', 'amount'],
          additionalProperties: false,
        },
      },
    })
    // No snake_case keyword leaks into what the model sees.
    expect(JSON.stringify(toToolSpec(tool))).not.toMatch(/max_length|min_length|additional_properties|max_items/)
  })
})
