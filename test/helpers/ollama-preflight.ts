import type http from 'node:http'

/**
 * What a stand-in Ollama server must answer before a run starts, as Ollama does: `/api/show` with
 * the model's capabilities, and the load request (a chat with no messages). Stand-ins that play a
 * broken chat answer these properly, so that it is the chat that is broken.
 */
export function isPreflight(url: string | undefined, body: string): boolean {
  if (url === '/api/show') return true
  if (url !== '/api/chat') return false
  try {
    const messages = (JSON.parse(body) as {messages?: unknown[]}).messages
    return Array.isArray(messages) && messages.length === 0
  } catch {
    return false
  }
}

export function preflight(url: string, model: string, res: http.ServerResponse): void {
  res.writeHead(200, {'content-type': 'application/json'})
  if (url === '/api/show') {
    res.end(JSON.stringify({capabilities: ['completion', 'tools'], details: {format: 'gguf'}, model_info: {}}))
    return
  }
  res.end(JSON.stringify({model, created_at: '2026-01-01T00:00:00Z', message: {role: 'assistant', content: ''}, done_reason: 'load', done: true}))
}
