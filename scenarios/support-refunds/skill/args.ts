import type {ToolSpec} from '../../../src/model/types.js'
import {fillArgs, fitText, matchEnum, normaliseField, type PropSchema, schemaType} from '../../../src/model/scripted/schema-args.js'

export type {PropSchema}

/**
 * Builds tool arguments from the offered tool's JSON Schema, the way a careful agent would: it
 * fills the fields the schema names (recognising common field names), picks enum values that match
 * what it means, truncates text to max length, and leaves out what it cannot fill — even when the
 * field is required — so a schema change shows up as a real validation difference downstream.
 */
/** What the model means to say, by meaning rather than by field name. */
export type Intentions = {
  orderId?: string | null
  amount?: number | null
  currency?: string
  reason?: string | null
  method?: string
  email?: string | null
  subject?: string
  body?: string
  summary?: string
  query?: string
  priority?: string
  category?: string
  topK?: number
}

/** Field names (lower case, without _ or -) the model knows how to fill, and from what. */
const FIELD_MEANINGS: Record<string, keyof Intentions> = {
  orderid: 'orderId',
  order: 'orderId',
  ordernumber: 'orderId',
  amount: 'amount',
  refundamount: 'amount',
  amountusd: 'amount',
  amountcents: 'amount',
  refundamountcents: 'amount',
  currency: 'currency',
  reason: 'reason',
  refundreason: 'reason',
  reasoncode: 'reason',
  method: 'method',
  refundmethod: 'method',
  to: 'email',
  recipient: 'email',
  email: 'email',
  customeremail: 'email',
  subject: 'subject',
  body: 'body',
  message: 'body',
  text: 'body',
  note: 'summary',
  notes: 'summary',
  summary: 'summary',
  description: 'summary',
  details: 'summary',
  query: 'query',
  question: 'query',
  q: 'query',
  priority: 'priority',
  severity: 'priority',
  category: 'category',
  topic: 'category',
  queue: 'category',
  topk: 'topK',
  limit: 'topK',
}

/** Synonyms used to match a meaning against an enum's values. */
const ENUM_SYNONYMS: Record<string, string[]> = {
  damaged: ['damaged', 'defective', 'damaged_item', 'broken', 'item_damaged'],
  not_delivered: ['not_delivered', 'not_received', 'lost', 'never_arrived', 'missing'],
  wrong_item: ['wrong_item', 'incorrect_item', 'wrong_product'],
  duplicate_charge: ['duplicate_charge', 'duplicate', 'double_charge', 'charged_twice'],
  late_delivery: ['late_delivery', 'late', 'delayed'],
  changed_mind: ['changed_mind', 'customer_request', 'no_longer_needed', 'buyer_remorse'],
  original_payment: ['original_payment', 'original', 'card', 'original_method', 'refund'],
  store_credit: ['store_credit', 'credit', 'voucher'],
  normal: ['normal', 'medium', 'standard'],
  high: ['high', 'urgent'],
  usd: ['usd'],
}

/** The enum value that means `wanted`, else `other` when the enum offers it, else undefined. */
export function pickEnum(values: readonly unknown[], wanted: string): unknown {
  return matchEnum(values, wanted, ENUM_SYNONYMS, 'other')
}

function coerce(value: unknown, schema: PropSchema): unknown {
  if (value === null || value === undefined) return undefined
  if (schema.enum && schema.enum.length > 0) return pickEnum(schema.enum, String(value))
  const type = schemaType(schema)
  if (type === 'integer') return typeof value === 'number' ? Math.round(value) : undefined
  if (type === 'number') return typeof value === 'number' ? value : undefined
  if (type === 'string') {
    return fitText(String(value), schema)
  }
  if (type === 'boolean') return typeof value === 'boolean' ? value : undefined
  return undefined
}

/** Arguments for `tool`; fields whose meaning is unknown or empty are omitted. */
export function buildArgs(tool: ToolSpec, meaning: Intentions): Record<string, unknown> {
  return fillArgs(tool, FIELD_MEANINGS, (key, field, schema) => {
    // "amount_cents" style fields carry integer cents.
    const value = meaning[key]
    return coerce(key === 'amount' && typeof value === 'number' && /cents/i.test(field) ? Math.round(value * 100) : value, schema)
  })
}

export function findTool(tools: readonly ToolSpec[], name: string): ToolSpec | undefined {
  return tools.find((t) => t.function.name === name)
}

/** Whether the tool's schema has a field of this meaning, and which enum values it offers. */
export function fieldFor(tool: ToolSpec, meaning: keyof Intentions): {name: string; enum?: unknown[]} | null {
  const params = tool.function.parameters as PropSchema
  for (const [field, schema] of Object.entries(params.properties ?? {})) {
    if (FIELD_MEANINGS[normaliseField(field)] === meaning) return {name: field, enum: schema.enum}
  }
  return null
}
