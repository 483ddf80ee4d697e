import {writeFileSync} from 'node:fs'
import path from 'node:path'
import type {RequestTrace} from '../../src/trace/schema.js'
import {replayed, trace, trafficRecord, writeRun} from '../factories/index.js'

/**
 * A run whose candidate matches the recorded traffic exactly (so safety, reliability, cost and the
 * summary's quality metrics are all green) but fails acme's golden expectations: acme's requests
 * expect a refund the answer never mentions, globex's expect the "shipped" it does mention. Its
 * traffic file and store are written into `dir`.
 */
export function goldenFailingRun(dir: string): {db: string; runId: string} {
  const traffic = path.join(dir, 'traffic.jsonl')
  const db = path.join(dir, 'u.db')
  const requests = [
    {id: 'a1', tenant: 'acme', expect: {answer_contains: ['refund']}},
    {id: 'g1', tenant: 'globex', expect: {answer_contains: ['shipped']}},
    {id: 'a2', tenant: 'acme', expect: {answer_contains: ['refund']}},
    {id: 'g2', tenant: 'globex', expect: {answer_contains: ['shipped']}},
  ]
  writeFileSync(traffic, requests.map((r) => JSON.stringify(trafficRecord(r))).join('\n') + '\n')
  // Stored with their record's expectations, as the replay stores them.
  const traces: RequestTrace[] = requests.flatMap((r, i) => [
    replayed(trafficRecord(r), trace({request_id: r.id, line: i + 1, tenant: r.tenant, side: 'recorded'})),
    replayed(trafficRecord(r), trace({request_id: r.id, line: i + 1, tenant: r.tenant, side: 'candidate'})),
  ])
  const run = writeRun(db, traces, {run: {name: 'golden plan', traffic_file: traffic}})
  return {db, runId: run.id}
}
