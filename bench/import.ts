import {importTrafficText} from '../src/import/import-file.js'

/**
 * `traffic import --from openai` over a synthetic API log: `loops` agent loops of three steps each
 * (a search, a hold, an answer), every request repeating the history so far, as a logging proxy
 * writes them. In process (no CLI start-up): the figure is the importer's own rate.
 */
function openAiLog(loops: number): string {
  const lines: string[] = []
  for (let i = 0; i < loops; i++) {
    const ask = [{role: 'system', content: 'You book flights.'}, {role: 'user', content: `Cheapest flight LIS to OSL on day ${i % 28}, hold a seat.`}]
    const a1 = {role: 'assistant', content: null, tool_calls: [{id: `s${i}`, type: 'function', function: {name: 'search_flights', arguments: `{"origin":"LIS","destination":"OSL","day":${i % 28}}`}}]}
    const t1 = {role: 'tool', tool_call_id: `s${i}`, content: '{"flights":[{"flight":"TP1234","price_eur":189},{"flight":"SK811","price_eur":242}]}'}
    const a2 = {role: 'assistant', content: null, tool_calls: [{id: `h${i}`, type: 'function', function: {name: 'hold_seat', arguments: '{"flight":"TP1234"}'}}]}
    const t2 = {role: 'tool', tool_call_id: `h${i}`, content: '{"hold_id":"H-77"}'}
    const steps: [unknown[], unknown][] = [[ask, a1], [[...ask, a1, t1], a2], [[...ask, a1, t1, a2, t2], {role: 'assistant', content: 'Held TP1234 for you.'}]]
    steps.forEach(([messages, out], s) => {
      lines.push(JSON.stringify({
        metadata: {tenant: `t${i % 7}`, role: 'traveler'},
        request: {model: 'm', user: `u${i}`, messages},
        response: {id: `c${i}-${s}`, created: 1_770_714_000 + i * 10 + s, choices: [{message: out, finish_reason: s < 2 ? 'tool_calls' : 'stop'}], usage: {prompt_tokens: 100, completion_tokens: 10}},
      }))
    })
  }
  return lines.join('\n') + '\n'
}

/** Lines imported per second (best of `rounds`), and how many requests came out. */
export function measureImport(loops: number, rounds = 3): {lines_per_s: number; lines: number; requests: number; mib: number} {
  const text = openAiLog(loops)
  let best = Infinity
  let requests = 0
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    const r = importTrafficText('openai', text, 'bench.jsonl')
    best = Math.min(best, performance.now() - t0)
    if (r.errors.length > 0) throw new Error(r.errors[0])
    requests = r.records.length
  }
  return {lines_per_s: Math.round((loops * 3) / (best / 1000)), lines: loops * 3, requests, mib: Buffer.byteLength(text) / 2 ** 20}
}
