import {isObject, isoTime, num, str, SystemPromptTally, ToolCatalog, type ImportedTraffic, type ImportMapping} from '../traffic/imported.js'
import {readJsonValues, where} from './lines.js'
import {recordFromTree, type Tree, type TreeNode} from './trace-tree.js'

/**
 * A LangSmith runs export: one run per line (or one JSON array, or `{runs: […]}`), each with `id`,
 * `trace_id`, `parent_run_id`, `run_type` (llm, chat_model, tool, retriever, chain, prompt,
 * parser…), `name`, `start_time`, `end_time`, `inputs`, `outputs`, `error`, `extra.metadata`,
 * `extra.invocation_params` (the model call's parameters, with its `tools`), token counts
 * (`prompt_tokens`, `completion_tokens`); nested `child_runs` are read too. One request per trace:
 * the run without a parent. User, tenant and role: keys of the root run's `extra.metadata`
 * (`user_id` for the user unless `--user-attr` names another); the session is its `thread_id`,
 * `session_id` or `conversation_id`.
 */

export function importLangSmith(text: string, file: string, mapping: ImportMapping): ImportedTraffic {
  const {values, errors} = readJsonValues(text, file, ['runs', 'data'])
  const tools = new ToolCatalog()
  const systems = new SystemPromptTally()
  const traces = new Map<string, {runs: Record<string, unknown>[]; at: string}>()
  const add = (run: Record<string, unknown>, at: string, traceHint?: string): string | null => {
    const id = str(run.id)
    if (id === undefined) return 'id: missing on a run'
    const trace = str(run.trace_id) ?? traceHint ?? (str(run.parent_run_id) === undefined ? id : undefined)
    if (trace === undefined) return 'trace_id: missing on a child run'
    const e = traces.get(trace) ?? {runs: [], at}
    e.runs.push(run)
    if (str(run.parent_run_id) === undefined) e.at = at
    traces.set(trace, e)
    if (Array.isArray(run.child_runs)) {
      for (const c of run.child_runs) {
        if (!isObject(c)) continue
        const bad = add({...c, parent_run_id: c.parent_run_id ?? id}, at, trace)
        if (bad) return `child_runs.${bad}`
      }
    }
    return null
  }
  values.forEach((loc, index) => {
    const at = where(file, loc, index)
    if (!isObject(loc.value)) return errors.push(`${at}: line: expected a run object`)
    const bad = add(loc.value, at)
    if (bad) errors.push(`${at}: ${bad}`)
  })

  const records: ImportedTraffic['records'] = []
  for (const [id, e] of traces) {
    const nodes: TreeNode[] = []
    let broken: string | null = null
    for (const r of e.runs) {
      const n = nodeOf(r, tools)
      if (typeof n === 'string') {
        broken = `run ${str(r.id)}.${n}`
        break
      }
      nodes.push(n)
    }
    if (broken) {
      errors.push(`${e.at}: trace ${id}: ${broken}`)
      continue
    }
    const roots = e.runs.filter((r) => str(r.parent_run_id) === undefined)
    if (roots.length !== 1) {
      errors.push(`${e.at}: trace ${id}: parent_run_id: ${roots.length} runs without a parent; expected one root run per trace`)
      continue
    }
    const root = roots[0]!
    const extra = isObject(root.extra) ? root.extra : {}
    const metadata = isObject(extra.metadata) ? extra.metadata : {}
    const tree: Tree = {
      id,
      nodes,
      input: root.inputs,
      output: root.outputs,
      error: str(root.error) ?? null,
      start: isoTime(root.start_time),
      end: isoTime(root.end_time),
      user: metadata.user_id,
      session: str(metadata.thread_id) ?? str(metadata.session_id) ?? str(metadata.conversation_id),
      metadata,
      ...(str(root.name) !== undefined ? {name: str(root.name)} : {}),
    }
    const built = recordFromTree(tree, mapping, {source: 'langsmith', userField: 'extra.metadata.user_id', metadataField: 'extra.metadata'}, systems)
    if (!built.ok) errors.push(`${e.at}: trace ${id}: ${built.field}: ${built.message}`)
    else records.push(built.record)
  }
  records.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
  return {records, tools: tools.list(), errors, units: traces.size, systemPrompts: systems.list()}
}

const KIND: Record<string, TreeNode['kind']> = {llm: 'llm', chat_model: 'llm', tool: 'tool', retriever: 'retriever'}

function nodeOf(r: Record<string, unknown>, tools: ToolCatalog): TreeNode | string {
  const start = isoTime(r.start_time)
  if (start === null) return 'start_time: missing or not a time'
  const kind = KIND[str(r.run_type) ?? ''] ?? 'other'
  const extra = isObject(r.extra) ? r.extra : {}
  const params = isObject(extra.invocation_params) ? extra.invocation_params : {}
  if (kind === 'llm' && Array.isArray(params.tools)) {
    for (const t of params.tools) {
      if (!isObject(t)) continue
      const f = isObject(t.function) ? t.function : t
      tools.add(f.name, f.description, f.parameters ?? f.input_schema)
    }
  }
  const outputs = isObject(r.outputs) ? r.outputs : {}
  const llmOutput = isObject(outputs.llm_output) ? outputs.llm_output : {}
  const tokenUsage = isObject(llmOutput.token_usage) ? llmOutput.token_usage : {}
  const gen = Array.isArray(outputs.generations) ? (Array.isArray(outputs.generations[0]) ? outputs.generations[0][0] : outputs.generations[0]) : undefined
  const finish = isObject(gen) && isObject(gen.generation_info) ? str(gen.generation_info.finish_reason) : undefined
  const inTok = num(r.prompt_tokens) ?? num(tokenUsage.prompt_tokens)
  const outTok = num(r.completion_tokens) ?? num(tokenUsage.completion_tokens)
  return {
    id: str(r.id)!,
    parentId: str(r.parent_run_id) ?? null,
    kind,
    name: str(r.name) ?? str(r.run_type) ?? 'run',
    start,
    end: isoTime(r.end_time),
    // An llm run's prompt is `inputs.messages` (or `inputs.prompts`); other runs' inputs are their arguments.
    input: kind === 'llm' && isObject(r.inputs) ? (r.inputs.messages ?? r.inputs.prompts ?? r.inputs) : r.inputs,
    output: r.outputs,
    error: str(r.error) ?? null,
    usage: inTok !== undefined || outTok !== undefined ? {input: inTok ?? 0, output: outTok ?? 0} : null,
    ...(finish !== undefined ? {finish} : {}),
  }
}
