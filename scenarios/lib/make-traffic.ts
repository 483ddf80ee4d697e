/**
 * A drill's traffic.jsonl is a fixed subset of scenarios/support-refunds/traffic.jsonl: the first
 * N requests of each category in its recipe, in their original order, so the recorded timeline
 * and every request's recorded production answer are kept as they are.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/** Category → how many requests. */
export type Recipe = Readonly<Record<string, number>>

export function subset(lines: readonly string[], recipe: Recipe): string[] {
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

/** The source-tree directory of the script at `moduleUrl`, whether run from source or from dist/. */
function sourceDir(moduleUrl: string): string {
  const dir = path.dirname(fileURLToPath(moduleUrl))
  return dir.includes(`${path.sep}dist${path.sep}`) ? dir.replace(`${path.sep}dist${path.sep}`, path.sep) : dir
}

/** Writes traffic.jsonl next to the drill script at `moduleUrl`; returns its path and how many requests it holds. */
export function writeDrillTraffic(moduleUrl: string, recipe: Recipe): {file: string; count: number} {
  const dir = sourceDir(moduleUrl)
  const source = path.resolve(dir, '..', 'support-refunds', 'traffic.jsonl')
  const lines = subset(readFileSync(source, 'utf8').split('\n'), recipe)
  const file = path.join(dir, 'traffic.jsonl')
  writeFileSync(file, lines.join('\n') + '\n')
  return {file, count: lines.length}
}
