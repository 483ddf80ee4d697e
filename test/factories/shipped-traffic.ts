import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

/** Every string (object keys too) of every line of every shipped scenario's traffic.jsonl. */
export function shippedTrafficStrings(): string[] {
  const out: string[] = []
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k)
        walk(x)
      }
    }
  }
  const root = path.resolve(__dirname, '../../scenarios')
  for (const scenario of readdirSync(root)) {
    let text: string
    try {
      text = readFileSync(path.join(root, scenario, 'traffic.jsonl'), 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n')) if (line.trim() !== '') walk(JSON.parse(line))
  }
  return out
}
