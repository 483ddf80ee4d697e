import {z} from 'zod'
import {TrafficRecord} from './schema.js'

/**
 * Records a process parses with the schema interpreted before it compiles the schema. Compiling
 * (20–80 ms, most of it warming zod's compiler) costs about what interpreting the first hundred
 * records does, cold; after that a record parses ~3x cheaper compiled (more in a replay, where the
 * interpreter's code serves every schema). A short file (a test, `traffic validate` on a handful of
 * lines) never pays for the compiler.
 */
const COMPILE_AFTER = 100

let interpreted = 0
let compiled: typeof TrafficRecord | null = null

/**
 * `TrafficRecord.safeParse(value)`, the same result whichever way it is reached: after the first
 * COMPILE_AFTER records, through zod's compiled parser (`z.compile`), a generated function that
 * builds the record of a valid input (the same keys in the same order, the same defaults, fresh
 * objects and arrays, unknown values as they came) and hands any other input to TrafficRecord
 * itself, so every issue, and with it every problem a bad line reports, is the interpreter's.
 * test/traffic/parse-record.test.ts holds the two to identical output on every shipped traffic
 * file and on seeded mutations of their records.
 */
export function safeParseTrafficRecord(value: unknown): ReturnType<typeof TrafficRecord.safeParse> {
  if (compiled === null && ++interpreted > COMPILE_AFTER) compiled = compiledTrafficRecord()
  return (compiled ?? TrafficRecord).safeParse(value)
}

/** TrafficRecord compiled by zod (a new compilation each call; safeParseTrafficRecord keeps one). */
export function compiledTrafficRecord(): typeof TrafficRecord {
  return z.compile(TrafficRecord)
}
