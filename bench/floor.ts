/**
 * The I/O floor of a replay (#21): what any tool that reads a traffic file and stores one row per
 * request must at least pay on this machine. Streams the file, `JSON.parse`s each line, inserts one
 * row per request (line, id, tenant, the line's text) into better-sqlite3 in WAL mode with the
 * store's own pragmas, 1,000 rows per transaction, on one thread. Replay figures are reported as a
 * share of it, measured in the same bench run: on a shared machine absolute rates are noise, the
 * ratio much less so.
 *
 *   node dist/bench/floor.js <traffic.jsonl> <db>      prints one JSON line (FloorRun)
 */
import {createReadStream, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {spawn} from 'node:child_process'
import Database from 'better-sqlite3'

export type FloorRun = {
  requests: number
  /** From opening the traffic file to the last row committed. */
  wall_s: number
  /** User + system CPU of the process over the same span (process.cpuUsage). */
  cpu_s: number
  max_rss_kb: number
}

const BATCH = 1_000
const NEWLINE = 0x0a

export async function measureFloor(traffic: string, db: string): Promise<FloorRun> {
  const conn = new Database(db)
  try {
    conn.pragma('journal_mode = WAL')
    conn.pragma('synchronous = NORMAL')
    conn.exec('CREATE TABLE requests (line INTEGER NOT NULL, id TEXT NOT NULL, tenant TEXT NOT NULL, body TEXT NOT NULL) STRICT')
    const insert = conn.prepare('INSERT INTO requests (line, id, tenant, body) VALUES (?, ?, ?, ?)')
    const writeBatch = conn.transaction((rows: [number, string, string, string][]) => {
      for (const r of rows) insert.run(r)
    })
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let rows: [number, string, string, string][] = []
    let line = 0
    let carry: Buffer | null = null
    const take = (bytes: Buffer): void => {
      line++
      if (bytes.length === 0) return
      const text = bytes.toString('utf8')
      const record = JSON.parse(text) as {id: string; tenant: string}
      rows.push([line, record.id, record.tenant, text])
      if (rows.length >= BATCH) {
        writeBatch(rows)
        rows = []
      }
    }
    for await (const chunk of createReadStream(traffic, {highWaterMark: 1 << 20}) as AsyncIterable<Buffer>) {
      let pos = 0
      let nl = chunk.indexOf(NEWLINE, pos)
      while (nl !== -1) {
        const piece = chunk.subarray(pos, nl)
        take(carry === null ? piece : Buffer.concat([carry, piece]))
        carry = null
        pos = nl + 1
        nl = chunk.indexOf(NEWLINE, pos)
      }
      if (pos < chunk.length) carry = carry === null ? Buffer.from(chunk.subarray(pos)) : Buffer.concat([carry, chunk.subarray(pos)])
    }
    if (carry !== null) take(carry)
    if (rows.length > 0) writeBatch(rows)
    const cpu = process.cpuUsage(cpu0)
    const requests = conn.prepare('SELECT count(*) FROM requests').pluck().get() as number
    return {requests, wall_s: (performance.now() - t0) / 1000, cpu_s: (cpu.user + cpu.system) / 1e6, max_rss_kb: process.resourceUsage().maxRSS}
  } finally {
    conn.close()
  }
}

/** measureFloor in a child process of its own (as the replays run), the store file removed after. */
export function floorRun(traffic: string, db: string): Promise<FloorRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), traffic, db], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4_000)))
    child.on('error', reject)
    child.on('close', (code) => {
      for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, {force: true})
      if (code !== 0) return reject(new Error(`floor run exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`))
      try {
        resolve(JSON.parse(out) as FloorRun)
      } catch {
        reject(new Error(`floor run printed no result: ${out.slice(0, 200)}`))
      }
    })
  })
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [traffic, db] = process.argv.slice(2)
  if (!traffic || !db) {
    process.stderr.write('usage: node dist/bench/floor.js <traffic.jsonl> <db>\n')
    process.exit(2)
  }
  process.stdout.write(JSON.stringify(await measureFloor(traffic, db)) + '\n')
}
