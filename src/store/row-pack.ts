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

class LeftFastPath extends Error {}

/**
 * Thrown (and caught by packTraces, rows.ts) when a value leaves the fast path's plain data: the
 * batch is then encoded by the reference encoders (requestParams, packRows), which give the same
 * bytes or the error a bad trace deserves. One instance, made once: leaving allocates nothing.
 */
export const LEFT_FAST_PATH = new LeftFastPath('left the fast path')
const LEFT = LEFT_FAST_PATH
/**
 * Strings longer than this go to the native encoders (JSON.stringify, Buffer#write) in one call
 * each; shorter ones, most of a row's (stages, checks, names, details), are cheaper copied by a loop.
 */
const NATIVE_FROM = 48

/**
 * Rows written straight into the packed format, their JSON columns serialised from the trace
 * objects with no tuple arrays and no column strings (rows.ts, packTraces). Invariant: the bytes
 * are those packRows would give the rows requestParams builds. A string that needs escaping or is
 * not ASCII goes through JSON.stringify and UTF-8 as the reference's did; a value whose text would
 * differ outside a tuple throws LEFT_FAST_PATH: the writer never writes anything but the
 * reference's bytes.
 */
export class PackWriter {
  private buf: Buffer
  private o = 0

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, bytes))
  }

  get offset(): number {
    return this.o
  }

  /** Room for `n` more bytes: the buffer doubles (copying what is written) when it is short. */
  private room(n: number): void {
    if (this.o + n <= this.buf.length) return
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.o + n))
    this.buf.copy(next, 0, 0, this.o)
    this.buf = next
  }

  private u32At(at: number, n: number): void {
    const b = this.buf
    b[at] = n & 0xff
    b[at + 1] = (n >>> 8) & 0xff
    b[at + 2] = (n >>> 16) & 0xff
    b[at + 3] = n >>> 24
  }

  /** A row count or a row's value count (a uint32). */
  count(n: number): void {
    this.room(4)
    this.u32At(this.o, n)
    this.o += 4
  }

  /** One value as packRows writes it; anything but null, a number or a string leaves the fast path. */
  value(v: unknown): void {
    if (typeof v === 'string') {
      const at = this.beginText()
      this.utf8(v)
      this.endText(at)
    } else if (typeof v === 'number') {
      this.room(9)
      this.buf[this.o] = NUMBER
      this.buf.writeDoubleLE(v, this.o + 1)
      this.o += 9
    } else if (v === null) {
      this.room(1)
      this.buf[this.o++] = NULL
    } else throw LEFT
  }

  /** Starts a string value whose text the caller writes next (its length is filled in by endText). */
  beginText(): number {
    this.room(5)
    const at = this.o
    this.buf[at] = STRING
    this.o += 5
    return at
  }

  endText(at: number): void {
    this.u32At(at + 1, this.o - at - 5)
  }

  /** A string's UTF-8 bytes: short ASCII copied here, anything else by Buffer#write (as packRows). */
  utf8(s: string): void {
    const n = s.length
    if (n > NATIVE_FROM) return this.native(s)
    this.room(n)
    const b = this.buf
    let o = this.o
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return this.native(s)
      b[o++] = c
    }
    this.o = o
  }

  /** Text known to be ASCII (punctuation, literals, numbers' digits). */
  ascii(s: string): void {
    const n = s.length
    this.room(n)
    const b = this.buf
    let o = this.o
    for (let i = 0; i < n; i++) b[o++] = s.charCodeAt(i)
    this.o = o
  }

  /** One ASCII byte (a bracket, a comma, a digit). */
  byte(c: number): void {
    this.room(1)
    this.buf[this.o++] = c
  }

  /** JSON.stringify(s): short printable ASCII copied between quotes here, anything else through JSON.stringify. */
  jsonString(s: string): void {
    const n = s.length
    if (n > NATIVE_FROM) return this.native(JSON.stringify(s))
    this.room(n + 2)
    const b = this.buf
    let o = this.o
    b[o++] = 0x22
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7f) return this.native(JSON.stringify(s))
      b[o++] = c
    }
    b[o++] = 0x22
    this.o = o
  }

  /** JSON.stringify(n) for a finite number: a non-negative integer's digits here, any other through String(). */
  jsonNumber(n: number): void {
    if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) {
      if (n < 10) return this.byte(0x30 + n)
      const digits = n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : n < 100_000 ? 5 : n < 1_000_000 ? 6 : 10
      if (digits === 10) return this.ascii(String(n))
      this.room(digits)
      let o = this.o + digits
      this.o = o
      while (n > 0) {
        const q = (n / 10) | 0
        this.buf[--o] = 0x30 + n - q * 10
        n = q
      }
    } else if (Number.isFinite(n)) this.ascii(String(n))
    else throw LEFT
  }

  /**
   * JSON.stringify(v) as an element of a tuple: scalars written here, a record or array by
   * JSON.stringify itself (native, and exact at any depth). Only its own toJSON would be called with
   * another key at the top than inside a tuple, and undefined, a function or a symbol would be
   * null there: those leave the fast path, as does whatever JSON.stringify throws on.
   */
  json(v: unknown): void {
    if (typeof v === 'string') return this.jsonString(v)
    if (typeof v === 'number') return this.jsonNumber(v)
    if (v === null) return this.ascii('null')
    if (v === true) return this.ascii('true')
    if (v === false) return this.ascii('false')
    if (typeof v !== 'object' || typeof (v as {toJSON?: unknown}).toJSON === 'function') throw LEFT
    this.native(JSON.stringify(v))
  }

  /** A string's UTF-8 bytes by Buffer#write: one native call, for text long enough to repay it. */
  private native(s: string): void {
    this.room(3 * s.length)
    this.o += this.buf.write(s, this.o)
  }

  finish(): PackedRows {
    return {buffer: this.buf.buffer as ArrayBuffer, length: this.o}
  }
}
