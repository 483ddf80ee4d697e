import type {ToolSpec} from '../../../src/model/types.js'
import {fillArgs, fitText, matchEnum, type PropSchema, schemaType} from '../../../src/model/scripted/schema-args.js'

/**
 * Ticket-tool arguments built from the offered tool's JSON Schema: the model decides what it means
 * (ticket id, account, system, level, justification …) and then walks the schema's properties,
 * filling the fields whose names it recognises. Enum fields get the value that means what it wants
 * (or a known synonym, or `other`), else the field is left out — even when required — so a schema
 * change shows up as a validation difference downstream, as it would with a real model.
 */
export type TicketMeaning = {
  ticketId?: string | null
  changeId?: string | null
  username?: string | null
  system?: string | null
  level?: string | null
  justification?: string | null
  status?: string | null
  comment?: string | null
  assignee?: string | null
  group?: string | null
  verification?: string | null
  email?: string | null
  summary?: string | null
  risk?: string | null
  environment?: string | null
  query?: string | null
  topK?: number | null
}

/** Field names (lower case, without _ or -) the model knows how to fill, and from what. */
const FIELD_MEANINGS: Record<string, keyof TicketMeaning> = {
  ticketid: 'ticketId',
  ticket: 'ticketId',
  incident: 'ticketId',
  incidentid: 'ticketId',
  changeid: 'changeId',
  change: 'changeId',
  changerequestid: 'changeId',
  username: 'username',
  user: 'username',
  userid: 'username',
  account: 'username',
  login: 'username',
  principal: 'username',
  system: 'system',
  resource: 'system',
  application: 'system',
  app: 'system',
  level: 'level',
  accesslevel: 'level',
  permission: 'level',
  justification: 'justification',
  businessjustification: 'justification',
  reason: 'justification',
  status: 'status',
  state: 'status',
  comment: 'comment',
  note: 'comment',
  notes: 'comment',
  worknote: 'comment',
  assignee: 'assignee',
  assignto: 'assignee',
  owner: 'assignee',
  group: 'group',
  team: 'group',
  queue: 'group',
  assignmentgroup: 'group',
  verifiedvia: 'verification',
  verification: 'verification',
  verificationmethod: 'verification',
  notifyemail: 'email',
  email: 'email',
  contactemail: 'email',
  summary: 'summary',
  description: 'summary',
  title: 'summary',
  risk: 'risk',
  risklevel: 'risk',
  environment: 'environment',
  env: 'environment',
  query: 'query',
  q: 'query',
  question: 'query',
  topk: 'topK',
  limit: 'topK',
}

const ENUM_SYNONYMS: Record<string, string[]> = {
  read: ['read', 'read_only', 'readonly', 'viewer', 'reader'],
  write: ['write', 'read_write', 'editor', 'contributor'],
  admin: ['admin', 'administrator', 'owner', 'full'],
  callback: ['callback', 'phone_callback', 'call_back'],
  manager_approval: ['manager_approval', 'manager'],
  id_check: ['id_check', 'badge', 'in_person', 'photo_id'],
  resolved: ['resolved', 'done', 'fixed'],
  closed: ['closed', 'resolved'],
  pending: ['pending', 'on_hold', 'waiting', 'awaiting_approval'],
  in_progress: ['in_progress', 'working', 'active'],
  open: ['open', 'new', 'reopened'],
  production: ['production', 'prod'],
  staging: ['staging', 'stage', 'preprod'],
  low: ['low', 'minor'],
  medium: ['medium', 'moderate', 'normal'],
  high: ['high', 'major'],
}

/** The enum value that means `wanted`, else `other` when offered, else undefined. */
export function pickTicketEnum(values: readonly unknown[], wanted: string): unknown {
  return matchEnum(values, wanted, ENUM_SYNONYMS, 'other')
}

function coerce(value: unknown, schema: PropSchema): unknown {
  if (value === null || value === undefined || value === '') return undefined
  if (schema.enum && schema.enum.length > 0) return pickTicketEnum(schema.enum, String(value))
  const type = schemaType(schema)
  if (type === 'integer') return typeof value === 'number' ? Math.round(value) : undefined
  if (type === 'number') return typeof value === 'number' ? value : undefined
  if (type === 'string') {
    return fitText(String(value), schema)
  }
  return undefined
}

/** Arguments for `tool`; fields whose meaning is unknown or empty are omitted. */
export function buildTicketArgs(tool: ToolSpec, meaning: TicketMeaning): Record<string, unknown> {
  return fillArgs(tool, FIELD_MEANINGS, (key, _field, schema) => coerce(meaning[key], schema))
}
