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

/**
 * Buffer's own UTF-8 codec methods, which `write` and `toString` reach after checking and
 * defaulting their arguments (about a third of the time packing took, over ~25 strings a row).
 * Node has them on every Buffer since long before 20; the checked methods stand in if not.
 */
type Utf8Buffer = Buffer & {utf8Write(text: string, offset: number): number; utf8Slice(start: number, end: number): string}
const proto = Buffer.prototype as Partial<Utf8Buffer>
const utf8Write: (buf: Utf8Buffer, text: string, offset: number) => number =
  typeof proto.utf8Write === 'function' ? (buf, text, offset) => buf.utf8Write(text, offset) : (buf, text, offset) => buf.write(text, offset)
const utf8Slice: (buf: Utf8Buffer, start: number, end: number) => string =
  typeof proto.utf8Slice === 'function' ? (buf, start, end) => buf.utf8Slice(start, end) : (buf, start, end) => buf.toString('utf8', start, end)

/** Strings up to this length are copied by a loop while ASCII: cheaper than a call into the codec. */
const SHORT = 24
const INITIAL_BYTES = 1 << 16
/** A batch of 512 requests with a baseline packs to ~4 MB; a buffer grown far past that is let go. */
const MAX_KEPT_BYTES = 1 << 25

/**
 * Packs rows into one growing buffer, request after request, and hands them over as one exactly
 * sized ArrayBuffer per batch (take): the buffer is allocated once per writer and reused, not once
 * per request, and a batch is one transfer. Between appends the rows wait as off-heap bytes, which
 * no scavenge copies. `take()` after any sequence of appends gives the bytes packRows would give for
 * the same rows, in order.
 */
export class RowPacker {
  private bytes!: ArrayBuffer
  private buf!: Utf8Buffer
  private view!: DataView
  /** Bytes used: the row count's 4 bytes, then the rows appended since the last take. */
  private used = 4
  private count = 0

  constructor() {
    this.reset(INITIAL_BYTES)
  }

  /** Rows appended since the last take (or clear). */
  get rows(): number {
    return this.count
  }

  /**
   * Appends the rows, or returns false, appending none, when a value is none of null, number,
   * string (the caller sends those rows as they are).
   */
  append(rows: readonly (readonly unknown[])[]): boolean {
    // An upper bound first (UTF-8 takes at most 3 bytes per UTF-16 unit), so no write runs short.
    let bound = 0
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!
      bound += 4
      for (let i = 0; i < row.length; i++) {
        const v = row[i]
        if (typeof v === 'string') bound += 5 + 3 * v.length
        else if (typeof v === 'number') bound += 9
        else if (v === null) bound += 1
        else return false
      }
    }
    if (this.used + bound > this.buf.length) this.grow(this.used + bound)
    const buf = this.buf
    const view = this.view
    let o = this.used
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!
      view.setUint32(o, row.length, true)
      o += 4
      for (let i = 0; i < row.length; i++) {
        const v = row[i]
        if (typeof v === 'string') {
          buf[o] = STRING
          const at = o + 5
          let n = 0
          if (v.length <= SHORT) {
            for (; n < v.length; n++) {
              const c = v.charCodeAt(n)
              if (c > 0x7f) break
              buf[at + n] = c
            }
            // Not all ASCII: the codec writes the whole string over what the loop wrote.
            if (n < v.length) n = utf8Write(buf, v, at)
          } else n = utf8Write(buf, v, at)
          view.setUint32(o + 1, n, true)
          o = at + n
        } else if (typeof v === 'number') {
          buf[o] = NUMBER
          view.setFloat64(o + 1, v, true)
          o += 9
        } else buf[o++] = NULL
      }
    }
    this.used = o
    this.count += rows.length
    return true
  }

  /** The rows appended since the last take, as bytes of their own (null when there are none); the packer starts over. */
  take(): PackedRows | null {
    if (this.count === 0) return null
    this.view.setUint32(0, this.count, true)
    const buffer = this.bytes.slice(0, this.used)
    this.clear()
    return {buffer, length: buffer.byteLength}
  }

  /**
   * take() without the copy: the packer's own buffer goes, the rows at its start (`length` bytes),
   * and the packer goes on in a new buffer of the same size. A new buffer's pages are only mapped
   * as rows are written into it, so this holds no more memory than take()'s exact copy, and saves
   * copying a batch (~1.5–2.5 MB) on the replay thread. (Giving the buffers back to pack into
   * again saved their page faults too, but kept every in-flight buffer's whole capacity resident:
   * +3–4 MB peak RSS.)
   */
  handOver(): PackedRows | null {
    if (this.count === 0) return null
    this.view.setUint32(0, this.count, true)
    const out = {buffer: this.bytes, length: this.used}
    const size = this.bytes.byteLength
    this.reset(size > MAX_KEPT_BYTES ? INITIAL_BYTES : size)
    this.used = 4
    this.count = 0
    return out
  }

  /** Drops the rows appended since the last take. */
  clear(): void {
    this.used = 4
    this.count = 0
    // A batch with an outsized row (a huge answer) does not leave its buffer behind for good.
    if (this.bytes.byteLength > MAX_KEPT_BYTES) this.reset(INITIAL_BYTES)
  }

  private reset(size: number): void {
    // Not zero-filled (a new ArrayBuffer is, ~1 MB per batch on the replay thread): no byte is read
    // past `used`, which every byte below was written to first. Never pooled (allocUnsafeSlow), so
    // the buffer is the Buffer's own and can be transferred.
    this.bytes = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer
    this.buf = Buffer.from(this.bytes) as Utf8Buffer
    this.view = new DataView(this.bytes)
  }

  private grow(needed: number): void {
    let size = this.buf.length * 2
    while (size < needed) size *= 2
    const old = this.buf
    this.reset(size)
    old.copy(this.buf, 0, 0, this.used)
  }
}

/** The rows as bytes, or null when a value is none of null, number, string (the caller sends the rows as they are). */
export function packRows(rows: readonly (readonly unknown[])[]): PackedRows | null {
  const packer = new RowPacker()
  if (!packer.append(rows)) return null
  return packer.take() ?? emptyBatch()
}

function emptyBatch(): PackedRows {
  const buffer = new ArrayBuffer(4)
  return {buffer, length: 4}
}

export function unpackRows(packed: PackedRows): unknown[][] {
  const rows: unknown[][] = []
  for (const row of eachPackedRow(packed)) rows.push(row)
  return rows
}

/**
 * The rows of `packed` in order, each decoded only when the iteration reaches it: a consumer that
 * is done with a row before asking for the next (the trace writer's inserts) never holds a whole
 * batch of decoded strings, which in the writer thread's small young generation were copied by
 * every scavenge mid-batch and then promoted (a fifth of that thread's time went to GC).
 */
export function* eachPackedRow(packed: PackedRows): Generator<unknown[], void, undefined> {
  const buf = Buffer.from(packed.buffer, 0, packed.length) as Utf8Buffer
  const view = new DataView(packed.buffer, 0, packed.length)
  let o = 0
  const count = view.getUint32(o, true)
  o += 4
  for (let r = 0; r < count; r++) {
    const n = view.getUint32(o, true)
    o += 4
    const row: unknown[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const tag = buf[o++]
      if (tag === STRING) {
        const bytes = view.getUint32(o, true)
        row[i] = utf8Slice(buf, o + 4, o + 4 + bytes)
        o += 4 + bytes
      } else if (tag === NUMBER) {
        row[i] = view.getFloat64(o, true)
        o += 8
      } else row[i] = null
    }
    yield row
  }
}
