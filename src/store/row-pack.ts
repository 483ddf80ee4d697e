/**
 * A batch of `requests` rows as one byte buffer, for handing it to the trace writer's thread as a
 * transferable ArrayBuffer: the main thread encodes each trace once (rows.ts) and moves the bytes,
 * instead of structured-cloning every trace object and having the worker rebuild it, encode it and
 * collect the garbage. A value is a tag byte, then a float64 (number), or a uint32 byte length and
 * UTF-8 bytes (string); null is the tag alone. Invariant: unpackRows(packRows(rows)) binds exactly
 * what `rows` would (a number is the same double; a string's UTF-8 is what SQLite would be handed,
 * lone surrogates included, which both turn into U+FFFD).
 */

const NULL = 0
const NUMBER = 1
const STRING = 2

export type PackedRows = {buffer: ArrayBuffer; length: number}

/** The rows as bytes, or null when a value is none of null, number, string (the caller sends the rows as they are). */
export function packRows(rows: readonly (readonly unknown[])[]): PackedRows | null {
  // An upper bound first (UTF-8 takes at most 3 bytes per UTF-16 unit), so the buffer is never
  // grown; pages it does not touch are never made resident.
  let bound = 4
  for (const row of rows) {
    bound += 4
    for (const v of row) {
      if (typeof v === 'string') bound += 5 + 3 * v.length
      else if (typeof v === 'number') bound += 9
      else if (v === null) bound += 1
      else return null
    }
  }
  const buf = Buffer.allocUnsafeSlow(bound)
  let o = buf.writeUInt32LE(rows.length, 0)
  for (const row of rows) {
    o = buf.writeUInt32LE(row.length, o)
    for (const v of row) {
      if (typeof v === 'string') {
        buf[o] = STRING
        const n = buf.write(v, o + 5)
        buf.writeUInt32LE(n, o + 1)
        o += 5 + n
      } else if (typeof v === 'number') {
        buf[o] = NUMBER
        buf.writeDoubleLE(v, o + 1)
        o += 9
      } else buf[o++] = NULL
    }
  }
  return {buffer: buf.buffer as ArrayBuffer, length: o}
}

export function unpackRows(packed: PackedRows): unknown[][] {
  const buf = Buffer.from(packed.buffer, 0, packed.length)
  let o = 0
  const count = buf.readUInt32LE(o)
  o += 4
  const rows: unknown[][] = new Array(count)
  for (let r = 0; r < count; r++) {
    const n = buf.readUInt32LE(o)
    o += 4
    const row: unknown[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const tag = buf[o++]
      if (tag === STRING) {
        const bytes = buf.readUInt32LE(o)
        row[i] = buf.toString('utf8', o + 4, o + 4 + bytes)
        o += 4 + bytes
      } else if (tag === NUMBER) {
        row[i] = buf.readDoubleLE(o)
        o += 8
      } else row[i] = null
    }
    rows[r] = row
  }
  return rows
}
