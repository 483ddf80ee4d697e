import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

/**
 * A scenario's traffic repeated to `count` records with fresh ids (`<id>-<round>`), written to
 * `<dir>/big.jsonl`: a run long enough that a test can interrupt it part-way.
 */
export function bigTraffic(scenarioDir: string, dir: string, count: number): string {
  const lines = readFileSync(path.join(scenarioDir, 'traffic.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '')
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const rec = JSON.parse(lines[i % lines.length]!) as {id: string}
    rec.id = `${rec.id}-${Math.floor(i / lines.length)}`
    out.push(JSON.stringify(rec))
  }
  const file = path.join(dir, 'big.jsonl')
  writeFileSync(file, `${out.join('\n')}\n`)
  return file
}
