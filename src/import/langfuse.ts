import {isObject, isoTime, num, str, SystemPromptTally, ToolCatalog, type ImportedTraffic, type ImportMapping} from '../traffic/imported.js'
import {readJsonValues, where} from './lines.js'
import {recordFromTree, type Tree, type TreeNode} from './trace-tree.js'

/**
 * A Langfuse export: traces (`id`, `timestamp`, `input`, `output`, `userId`, `sessionId`,
 * `metadata`, and `observations` either nested as objects or as ids) and observations (`id`,
 * `traceId`, `type` GENERATION / SPAN / EVENT / TOOL / RETRIEVER…, `name`, `startTime`,
 * `endTime`, `input`, `output`, `usage` or `usageDetails`, `level`, `statusMessage`,
 * `parentObservationId`), as JSON Lines or one JSON array (or `{data: […]}`, the public API's page).
 * One request per trace. User: the trace's `userId`; tenant and role: keys of the trace's
 * `metadata` (then the root observation's).
 */

export function importLangfuse(text: string, file: string, mapping: ImportMapping): ImportedTraffic {
  const {values, errors} = readJsonValues(text, file)
  const tools = new ToolCatalog()
  const systems = new SystemPromptTally()
  const traces = new Map<string, {trace: Record<string, unknown> | null; obs: {o: Record<string, unknown>; at: string}[]; at: string}>()
  const entry = (id: string, at: string) => {
    let e = traces.get(id)
    if (!e) traces.set(id, (e = {trace: null, obs: [], at}))
    return e
  }
  values.forEach((loc, index) => {
    const at = where(file, loc, index)
    const v = loc.value
    if (!isObject(v)) return errors.push(`${at}: line: expected a trace or observation object`)
    if (str(v.traceId) !== undefined && str(v.type) !== undefined) {
      if (str(v.id) === undefined) return errors.push(`${at}: id: missing on an observation`)
      entry(v.traceId as string, at).obs.push({o: v, at})
      return
    }
    const id = str(v.id)
    if (id === undefined) return errors.push(`${at}: id: missing (expected a Langfuse trace, or an observation with traceId and type)`)
    const e = entry(id, at)
    e.trace = v
    e.at = at
    if (Array.isArray(v.observations)) for (const o of v.observations) if (isObject(o)) e.obs.push({o: {...o, traceId: id}, at})
  })

  const records: ImportedTraffic['records'] = []
  for (const [id, e] of traces) {
    const nodes: TreeNode[] = []
    // One unreadable observation skips its trace: a request missing a step would replay wrong.
    let broken: string | null = null
    for (const {o, at} of e.obs) {
      const node = nodeOf(o, tools)
      if (typeof node === 'string') {
        broken = `${at}: trace ${id}: observation ${str(o.id)}.${node}`
        break
      }
      nodes.push(node)
    }
    if (broken !== null) {
      errors.push(broken)
      continue
    }
    const t = e.trace ?? {}
    const root = nodes.find((n) => n.parentId === null)
    const rootObs = e.obs.find(({o}) => o.id === root?.id)?.o
    const metadata = {...(isObject(rootObs?.metadata) ? rootObs.metadata : {}), ...(isObject(t.metadata) ? t.metadata : {})}
    const tree: Tree = {
      id,
      nodes,
      input: t.input ?? rootObs?.input,
      output: t.output ?? rootObs?.output,
      error: null,
      start: str(t.timestamp) ?? null,
      end: null,
      user: t.userId,
      session: str(t.sessionId),
      metadata,
      ...(str(t.name) !== undefined ? {name: str(t.name)} : {}),
    }
    const built = recordFromTree(tree, mapping, {source: 'langfuse', userField: 'userId', metadataField: 'metadata'}, systems)
    if (!built.ok) errors.push(`${e.at}: trace ${id}: ${built.field}: ${built.message}`)
    else records.push(built.record)
  }
  records.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
  return {records, tools: tools.list(), errors, units: traces.size, systemPrompts: systems.list()}
}

const KIND: Record<string, TreeNode['kind']> = {GENERATION: 'llm', TOOL: 'tool', RETRIEVER: 'retriever'}

function nodeOf(o: Record<string, unknown>, tools: ToolCatalog): TreeNode | string {
  const start = isoTime(o.startTime)
  if (start === null) return 'startTime: missing or not a time'
  const type = str(o.type)?.toUpperCase() ?? ''
  const kind = KIND[type] ?? 'other'
  if (kind === 'llm') collectTools(o, tools)
  const usage = isObject(o.usageDetails) ? o.usageDetails : isObject(o.usage) ? o.usage : null
  const finish = isObject(o.output) ? str(o.output.finish_reason) ?? str(o.output.stop_reason) : undefined
  return {
    id: str(o.id)!,
    parentId: str(o.parentObservationId) ?? null,
    kind,
    name: str(o.name) ?? type.toLowerCase(),
    start,
    end: isoTime(o.endTime),
    input: o.input,
    output: o.output,
    error: o.level === 'ERROR' ? (str(o.statusMessage) ?? 'error') : null,
    usage: usage ? {input: num(usage.input) ?? num(usage.promptTokens) ?? 0, output: num(usage.output) ?? num(usage.completionTokens) ?? 0} : null,
    ...(finish !== undefined ? {finish} : {}),
  }
}

/** Tools offered to a generation: in its input (`{messages, tools}`) or its metadata. */
function collectTools(o: Record<string, unknown>, tools: ToolCatalog): void {
  const lists = [isObject(o.input) ? o.input.tools : undefined, isObject(o.metadata) ? o.metadata.tools : undefined, isObject(o.modelParameters) ? o.modelParameters.tools : undefined]
  for (const list of lists) {
    if (!Array.isArray(list)) continue
    for (const t of list) {
      if (!isObject(t)) continue
      const f = isObject(t.function) ? t.function : t
      tools.add(f.name, f.description, f.parameters ?? f.input_schema)
    }
  }
}
