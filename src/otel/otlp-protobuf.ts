import {createRequire} from 'node:module'

/**
 * OTLP/protobuf (what the OTLP/HTTP exporter sends with `application/x-protobuf`, and the
 * collector's file exporter writes with `format: proto`) decoded into the OTLP/JSON shape that
 * otlp-json.ts reads: ids as base64, 64-bit integers as strings, AnyValue as its one set field.
 * The decoder is the protobuf code `@opentelemetry/otlp-transformer` generates from the OTLP
 * .proto files; the package exports only encoders, so its generated module is loaded by path.
 */

type Message = {decode(bytes: Uint8Array): unknown; toObject(m: unknown, o: Record<string, unknown>): unknown}
type Root = {opentelemetry: {proto: {collector: {trace: {v1: {ExportTraceServiceRequest: Message}}}}}}

let request: Message | null = null

function exportTraceServiceRequest(): Message {
  if (request === null) {
    const require = createRequire(import.meta.url)
    const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js') as Root
    request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
  }
  return request
}

/**
 * Whether `bytes` is an OTLP protobuf export rather than JSON text: every non-empty export starts with
 * 0x0a (field 1, resource_spans, length-delimited), which is also a newline, so JSON whose first
 * character after white space is `{` or `[` is still JSON.
 */
export function looksLikeProtobuf(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x0a) return false
  let i = 0
  while (i < bytes.length && (bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x20 || bytes[i] === 0x09)) i++
  return bytes[i] !== 0x7b && bytes[i] !== 0x5b
}

/** One ExportTraceServiceRequest as OTLP/JSON; throws the decoder's error on bytes that are not one. */
export function decodeOtlpProtobuf(bytes: Uint8Array): unknown {
  const T = exportTraceServiceRequest()
  return T.toObject(T.decode(bytes), {longs: String, bytes: String, enums: Number})
}
