import type {KnownToolErrorCode as ToolErrorCode} from '../../src/traffic/schema.js'

/** A tool failure the simulated production world injects into one call. */
export type Fault = {code: ToolErrorCode; retry_after_ms?: number}

/** How long (ms) a call that fails this way takes. */
export const FAULT_LATENCY: Readonly<Record<ToolErrorCode, number>> = {
  timeout: 5000,
  rate_limited: 25,
  server_error: 180,
  invalid_args: 15,
  not_found: 40,
  conflict: 60,
  forbidden: 20,
}

/** The message a failing upstream sends with each fault. */
export function faultMessage(f: Fault): string {
  switch (f.code) {
    case 'timeout':
      return 'upstream did not answer within 5000 ms'
    case 'rate_limited':
      return `429 Too Many Requests; retry after ${f.retry_after_ms ?? 1000} ms`
    case 'server_error':
      return '503 Service Unavailable'
    default:
      return f.code
  }
}
