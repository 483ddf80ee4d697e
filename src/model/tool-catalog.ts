import type {ChatMessage, ToolSpec} from './types.js'

/**
 * The tool catalog: how a call that offers no tools (plan_first's planning call) still tells the
 * model what it has. One system message, one JSON line per enabled tool with its name, description
 * and argument schema (argument names, types, constraints). The runtime writes it; the scripted
 * model reads it back, so it plans from the catalog exactly as a real model must.
 */

/** The message's first line, by which it is recognised. */
const OPEN = '<tools note="Tools you may name in the plan; they are not called directly.">'
const CLOSE = '</tools>'

export function toolCatalogMessage(tools: readonly ToolSpec[]): ChatMessage {
  const lines = tools.map((t) => JSON.stringify({name: t.function.name, description: t.function.description, parameters: t.function.parameters}))
  return {role: 'system', content: [OPEN, ...lines, CLOSE].join('\n')}
}

export function isToolCatalog(message: ChatMessage): boolean {
  return message.role === 'system' && message.content.startsWith(OPEN)
}

/** The tools a catalog message lists, as tool specs; lines that are not a tool are skipped. */
export function catalogTools(message: ChatMessage): ToolSpec[] {
  const out: ToolSpec[] = []
  for (const line of message.content.split('\n').slice(1, -1)) {
    let v: unknown
    try {
      v = JSON.parse(line)
    } catch {
      continue
    }
    const t = v as {name?: unknown; description?: unknown; parameters?: unknown} | null
    if (t === null || typeof t !== 'object' || typeof t.name !== 'string') continue
    const parameters = t.parameters !== null && typeof t.parameters === 'object' ? (t.parameters as Record<string, unknown>) : {}
    out.push({type: 'function', function: {name: t.name, description: typeof t.description === 'string' ? t.description : '', parameters}})
  }
  return out
}

/** The catalog of the request's last catalog message, or null when it has none. */
export function catalogOf(messages: readonly ChatMessage[]): ToolSpec[] | null {
  for (let i = messages.length - 1; i >= 0; i--) if (isToolCatalog(messages[i]!)) return catalogTools(messages[i]!)
  return null
}
