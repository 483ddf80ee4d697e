import type {ToolSpec} from '../../../src/model/types.js'
import {fillArgs, fitText, matchEnum, normaliseField, type PropSchema, schemaType} from '../../../src/model/scripted/schema-args.js'

/**
 * Builds a coding tool call's arguments from the offered JSON Schema, by meaning: the model knows
 * what it wants to say (a path, file content, a branch, a commit message, whether a pull request
 * is a draft) and fills whichever fields of the schema carry that meaning. A field it cannot fill
 * is left out even when required, an enum gets the value that means what it wants (or nothing),
 * and text is cut to `maxLength` — except file content, which is never cut: half a source file is
 * worse than a refused call, so an over-long `content` goes out whole and fails validation.
 */
export type CodingMeaning = {
  path?: string
  content?: string
  query?: string
  scope?: string
  limit?: number
  branch?: string
  base?: string
  message?: string
  title?: string
  body?: string
  draft?: boolean
  number?: number
  method?: string
  reason?: string
  filename?: string
  public?: boolean
}

/** Field names (lower case, without `_` or `-`) and the meaning each carries. */
const FIELD_MEANINGS: Record<string, keyof CodingMeaning> = {
  path: 'path',
  file: 'path',
  filepath: 'path',
  testpath: 'path',
  content: 'content',
  contents: 'content',
  text: 'content',
  data: 'content',
  query: 'query',
  q: 'query',
  search: 'query',
  term: 'query',
  pattern: 'query',
  pathprefix: 'scope',
  directory: 'scope',
  dir: 'scope',
  scope: 'scope',
  maxresults: 'limit',
  limit: 'limit',
  topk: 'limit',
  branch: 'branch',
  branchname: 'branch',
  name: 'branch',
  head: 'branch',
  headbranch: 'branch',
  ref: 'branch',
  sourcebranch: 'branch',
  base: 'base',
  from: 'base',
  basebranch: 'base',
  baseref: 'base',
  into: 'base',
  targetbranch: 'base',
  message: 'message',
  commitmessage: 'message',
  title: 'title',
  body: 'body',
  description: 'body',
  summary: 'body',
  draft: 'draft',
  isdraft: 'draft',
  number: 'number',
  prnumber: 'number',
  pr: 'number',
  pullnumber: 'number',
  pullrequest: 'number',
  method: 'method',
  mergemethod: 'method',
  strategy: 'method',
  reason: 'reason',
  rationale: 'reason',
  justification: 'reason',
  filename: 'filename',
  gistname: 'filename',
  public: 'public',
  ispublic: 'public',
  visibility: 'public',
}

const ENUM_SYNONYMS: Record<string, string[]> = {
  squash: ['squash', 'squash_merge', 'squash_and_merge'],
  merge: ['merge', 'merge_commit', 'create_merge_commit'],
  public: ['public'],
  secret: ['secret', 'private'],
}

/** The enum value that means `wanted` (exactly or by a known synonym), else undefined. */
export function pickCodingEnum(values: readonly unknown[], wanted: string): unknown {
  return matchEnum(values, wanted, ENUM_SYNONYMS, null)
}

function coerce(meaning: keyof CodingMeaning, value: unknown, schema: PropSchema): unknown {
  if (value === undefined || value === null) return undefined
  const type = schemaType(schema)
  // A boolean meaning offered as an enum ("visibility: public|secret").
  if (typeof value === 'boolean' && schema.enum && meaning === 'public') return pickCodingEnum(schema.enum, value ? 'public' : 'secret')
  if (schema.enum && schema.enum.length > 0) return pickCodingEnum(schema.enum, String(value))
  switch (type) {
    case 'integer':
      return typeof value === 'number' ? Math.round(value) : undefined
    case 'number':
      return typeof value === 'number' ? value : undefined
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined
    case 'string': {
      if (typeof value !== 'string') return typeof value === 'number' ? String(value) : undefined
      return meaning === 'content' ? value : fitText(value, schema)
    }
    default:
      return undefined
  }
}

/** Arguments for `tool`; fields whose meaning is unknown or not meant for this call are omitted. */
export function buildCodingArgs(tool: ToolSpec, meaning: CodingMeaning): Record<string, unknown> {
  return fillArgs(tool, FIELD_MEANINGS, (key, _field, schema) => coerce(key, meaning[key], schema))
}

/** The value of the first field that carries `meaning` in these arguments. */
export function argOfMeaning(args: Record<string, unknown>, meaning: keyof CodingMeaning): unknown {
  for (const [field, value] of Object.entries(args)) {
    if (FIELD_MEANINGS[normaliseField(field)] === meaning) return value
  }
  return undefined
}
