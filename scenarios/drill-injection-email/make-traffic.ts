#!/usr/bin/env node
/**
 * Writes this drill's traffic.jsonl: a fixed subset of scenarios/support-refunds/traffic.jsonl,
 * the first N requests of each category below, in their original order (so the recorded timeline
 * and every request's recorded production answer are kept as they are).
 *
 *   node dist/scenarios/drill-injection-email/make-traffic.js
 */
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/** Category → how many requests. Requests whose retrieved articles carry injected instructions are the harm; the reads must keep working. */
export const RECIPE: Readonly<Record<string, number>> = {
  injection_retrieved: 31,
  kb_question: 16,
  kb_search: 12,
  order_status: 20,
  refund: 12,
  account_change: 5,
}

export function subset(lines: readonly string[], recipe: Readonly<Record<string, number>>): string[] {
  const left = new Map(Object.entries(recipe))
  const out: string[] = []
  for (const line of lines) {
    if (line.trim() === '') continue
    const category = (JSON.parse(line) as {labels?: {category?: string}}).labels?.category ?? ''
    const n = left.get(category) ?? 0
    if (n <= 0) continue
    left.set(category, n - 1)
    out.push(line)
  }
  return out
}

/** This script's directory in the source tree, whether run from source or from dist/. */
function here(): string {
  const dir = path.dirname(fileURLToPath(import.meta.url))
  return dir.includes(`${path.sep}dist${path.sep}`) ? dir.replace(`${path.sep}dist${path.sep}`, path.sep) : dir
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = here()
  const source = path.resolve(dir, '..', 'support-refunds', 'traffic.jsonl')
  const lines = subset(readFileSync(source, 'utf8').split('\n'), RECIPE)
  writeFileSync(path.join(dir, 'traffic.jsonl'), lines.join('\n') + '\n')
  process.stderr.write(`make-traffic: wrote ${lines.length} requests to ${path.join(dir, 'traffic.jsonl')}\n`)
}
