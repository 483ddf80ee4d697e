/**
 * Test data factories: small typed builders with valid defaults (each checked by the real zod
 * schema) and overrides, one file per kind. Import from here: `import {toolCall, trace} from '../factories/index.js'`.
 */
export * from './agent-deps.js'
export * from './decision.js'
export * from './golden.js'
export * from './manifest.js'
export * from './merge.js'
export * from './shipped-traffic.js'
export * from './store.js'
export * from './temp-dir.js'
export * from './tool-call.js'
export * from './trace.js'
export * from './traffic-record.js'
