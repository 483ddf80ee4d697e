#!/usr/bin/env node
/**
 * Writes this drill's traffic.jsonl: the first N requests of each category below from
 * scenarios/support-refunds/traffic.jsonl, in their original order (see ../lib/make-traffic.ts).
 *
 *   node dist/scenarios/drill-injection-email/make-traffic.js
 */
import {isMainModule} from '../lib/main-module.js'
import {type Recipe, writeDrillTraffic} from '../lib/make-traffic.js'

/** Category → how many requests. Requests whose retrieved articles carry injected instructions are the harm; the reads must keep working. */
export const RECIPE: Recipe = {
  injection_retrieved: 31,
  kb_question: 16,
  kb_search: 12,
  order_status: 20,
  refund: 12,
  account_change: 5,
}

if (isMainModule(import.meta.url)) {
  const {file, count} = writeDrillTraffic(import.meta.url, RECIPE)
  process.stderr.write(`make-traffic: wrote ${count} requests to ${file}\n`)
}
