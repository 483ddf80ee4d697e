/**
 * Reading OTLP/JSON (the protobuf-JSON mapping the OTLP/HTTP JSON exporter sends and the
 * collector's file exporter writes): resourceSpans → scopeSpans → spans, ids in hex, 64-bit
 * integers as strings or numbers, attribute values as AnyValue objects. Pure: text in, spans out.
 */

export type OtlpEvent = {name: string; timeNs: bigint; attributes: Record<string, unknown>}

export type OtlpSpan = {
  traceId: string
  spanId: string
  parentSpanId: string | null
  name: string
  startNs: bigint
  endNs: bigint
  attributes: Record<string, unknown>
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number
  statusMessage: string
  events: OtlpEvent[]
  resource: Record<string, unknown>
}

/** A problem with where it is: `trace <id>` when the span's trace id could be read, else the JSON path. */
export type OtlpProblem = {traceId: string | null; where: string; message: string}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** An AnyValue as a plain JS value: kvlists become objects, arrays arrays, int64 strings numbers. */
export function anyValue(v: unknown): unknown {
  if (!isObject(v)) return undefined
  if ('stringValue' in v) return typeof v.stringValue === 'string' ? v.stringValue : String(v.stringValue)
  if ('boolValue' in v) return v.boolValue === true || v.boolValue === 'true'
  if ('intValue' in v) return toNumber(v.intValue)
  if ('doubleValue' in v) return toNumber(v.doubleValue)
  if ('arrayValue' in v) {
    const values = isObject(v.arrayValue) && Array.isArray(v.arrayValue.values) ? v.arrayValue.values : []
    return values.map(anyValue)
  }
  if ('kvlistValue' in v) return keyValues(isObject(v.kvlistValue) ? v.kvlistValue.values : [])
  if ('bytesValue' in v) return v.bytesValue
  return undefined
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  if (isObject(v) && typeof v.low === 'number' && typeof v.high === 'number') return v.high * 2 ** 32 + (v.low >>> 0)
  return undefined
}

export function keyValues(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!Array.isArray(list)) return out
  for (const kv of list) {
    if (isObject(kv) && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value)
  }
  return out
}

/** Lowercase hex of `bytes` length; base64 (the plain protobuf-JSON mapping) is accepted too. */
export function normaliseId(v: unknown, bytes: number): string | null {
  if (typeof v !== 'string' || v === '') return null
  const hexLen = bytes * 2
  if (v.length === hexLen && /^[0-9a-fA-F]+$/.test(v)) return /^0+$/.test(v) ? null : v.toLowerCase()
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(v)) {
    const buf = Buffer.from(v, 'base64')
    if (buf.length === bytes) {
      const hex = buf.toString('hex')
      return /^0+$/.test(hex) ? null : hex
    }
  }
  return null
}

/** Nanoseconds since the epoch from a uint64 written as a string, a number or {low, high}. */
export function nanos(v: unknown): bigint | null {
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v)
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.round(v))
  if (isObject(v) && typeof v.low === 'number' && typeof v.high === 'number') return (BigInt(v.high >>> 0) << 32n) + BigInt(v.low >>> 0)
  return null
}

/**
 * Every span of one ExportTraceServiceRequest. A span that cannot be read (no ids, no times) is
 * reported and left out; the rest of the document is still read.
 */
export function spansOfDocument(doc: unknown, path: string): {spans: OtlpSpan[]; problems: OtlpProblem[]} {
  const spans: OtlpSpan[] = []
  const problems: OtlpProblem[] = []
  if (!isObject(doc) || !Array.isArray(doc.resourceSpans)) {
    problems.push({traceId: null, where: `${path}resourceSpans`, message: 'expected an OTLP/JSON trace export: an object with a resourceSpans array'})
    return {spans, problems}
  }
  doc.resourceSpans.forEach((rs, i) => {
    const rsPath = `${path}resourceSpans.${i}`
    if (!isObject(rs)) return problems.push({traceId: null, where: rsPath, message: 'expected an object'})
    const resource = keyValues(isObject(rs.resource) ? rs.resource.attributes : [])
    // instrumentationLibrarySpans: the name before OTLP 0.15; old collectors still write it.
    const scopes = Array.isArray(rs.scopeSpans) ? rs.scopeSpans : Array.isArray(rs.instrumentationLibrarySpans) ? rs.instrumentationLibrarySpans : null
    if (scopes === null) return problems.push({traceId: null, where: `${rsPath}.scopeSpans`, message: 'expected an array'})
    scopes.forEach((ss, j) => {
      const ssPath = `${rsPath}.scopeSpans.${j}`
      if (!isObject(ss) || !Array.isArray(ss.spans)) return problems.push({traceId: null, where: `${ssPath}.spans`, message: 'expected an array'})
      ss.spans.forEach((raw, k) => {
        const spanPath = `${ssPath}.spans.${k}`
        const read = readSpan(raw, resource)
        if ('problem' in read) problems.push({traceId: read.traceId, where: read.traceId === null ? `${spanPath}.${read.field}` : read.field, message: read.problem})
        else spans.push(read)
      })
    })
  })
  return {spans, problems}
}

function readSpan(raw: unknown, resource: Record<string, unknown>): OtlpSpan | {traceId: string | null; field: string; problem: string} {
  if (!isObject(raw)) return {traceId: null, field: 'span', problem: 'expected an object'}
  const traceId = normaliseId(raw.traceId, 16)
  if (traceId === null) return {traceId: null, field: 'traceId', problem: 'expected 32 hex digits, not all zero'}
  const name = typeof raw.name === 'string' ? raw.name : ''
  const spanId = normaliseId(raw.spanId, 8)
  if (spanId === null) return {traceId, field: `span "${name}".spanId`, problem: 'expected 16 hex digits, not all zero'}
  const parentSpanId = raw.parentSpanId === undefined || raw.parentSpanId === '' || raw.parentSpanId === null ? null : normaliseId(raw.parentSpanId, 8)
  if (parentSpanId === null && raw.parentSpanId !== undefined && raw.parentSpanId !== '' && raw.parentSpanId !== null) {
    return {traceId, field: `span ${spanId}.parentSpanId`, problem: 'expected 16 hex digits'}
  }
  const startNs = nanos(raw.startTimeUnixNano)
  if (startNs === null) return {traceId, field: `span ${spanId}.startTimeUnixNano`, problem: 'expected nanoseconds since the epoch'}
  const endNs = nanos(raw.endTimeUnixNano) ?? startNs
  const status = isObject(raw.status) ? raw.status : {}
  const code = typeof status.code === 'number' ? status.code : status.code === 'STATUS_CODE_ERROR' ? 2 : status.code === 'STATUS_CODE_OK' ? 1 : 0
  const events: OtlpEvent[] = []
  if (Array.isArray(raw.events)) {
    for (const e of raw.events) {
      if (!isObject(e)) continue
      events.push({name: typeof e.name === 'string' ? e.name : '', timeNs: nanos(e.timeUnixNano) ?? startNs, attributes: keyValues(e.attributes)})
    }
  }
  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    startNs,
    endNs: endNs < startNs ? startNs : endNs,
    attributes: keyValues(raw.attributes),
    statusCode: code,
    statusMessage: typeof status.message === 'string' ? status.message : '',
    events,
    resource,
  }
}
