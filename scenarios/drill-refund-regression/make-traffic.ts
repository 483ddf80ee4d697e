#!/usr/bin/env node
/**
 * Writes this drill's traffic.jsonl: the first N requests of each category below from
 * scenarios/support-refunds/traffic.jsonl, in their original order (see ../lib/make-traffic.ts).
 *
 *   node dist/scenarios/drill-refund-regression/make-traffic.js
 */
import {isMainModule} from '../lib/main-module.js'
import {type Recipe, writeDrillTraffic} from '../lib/make-traffic.js'

/** Category → how many requests. Large refunds by agents are the harm; the rest must keep working. */
export const RECIPE: Recipe = {
  refund_needs_approval: 24,
  refund: 24,
  order_status: 16,
  kb_question: 10,
  refund_large: 8,
  escalation: 6,
  tool_error_retry: 6,
}

if (isMainModule(import.meta.url)) {
  const {file, count} = writeDrillTraffic(import.meta.url, RECIPE)
  process.stderr.write(`make-traffic: wrote ${count} requests to ${file}\n`)
}
