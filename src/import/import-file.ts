import {UnderstudyError, UsageError, ValidationError} from '../errors.js'
import {importOtlpText} from '../otel/import.js'
import {decodeOtlpProtobuf, looksLikeProtobuf} from '../otel/otlp-protobuf.js'
import type {ImportedTraffic, ImportMapping, ToolDefinition} from '../traffic/imported.js'
import {writeFileAtomicAsync} from '../util/atomic-write.js'
import {NotRegularFileError, openRegular} from '../util/regular-file.js'
import {importAnthropic} from './anthropic.js'
import {importLangfuse} from './langfuse.js'
import {importLangSmith} from './langsmith.js'
import {importOpenAi} from './openai.js'

/** The formats `traffic import --from` reads, each with its module here (OpenTelemetry's in src/otel/). */
export const IMPORT_FORMATS = ['otel', 'openai', 'anthropic', 'langfuse', 'langsmith'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]
/** The formats whose files hold whole conversations, which `--turns` makes one multi-turn record each. */
const TURN_FORMATS: readonly ImportFormat[] = ['openai', 'anthropic']

const IMPORTERS: Record<ImportFormat, (text: string, file: string, mapping: ImportMapping) => ImportedTraffic> = {
  otel: (text, file, mapping) => {
    const r = importOtlpText(text, file, mapping)
    return {records: r.records, tools: r.tools, errors: r.errors, units: r.traces, systemPrompts: r.systemPrompts}
  },
  openai: importOpenAi,
  anthropic: importAnthropic,
  langfuse: importLangfuse,
  langsmith: importLangSmith,
}

/** What one import did. `tools` are the tool definitions seen in the input, for a bundle to be drafted from. */
export type ImportFileResult = {
  from: ImportFormat
  file: string
  out: string
  /** Lines or traces read (a request-log loop of several lines counts each line). */
  read: number
  written: number
  skipped: number
  errors: string[]
  tools: ToolDefinition[]
}

/** `--turns` is for the formats that hold whole conversations: refused, before any file is read, for the others. */
export function checkTurns(from: ImportFormat, mapping: ImportMapping): void {
  if (mapping.turns === true && !TURN_FORMATS.includes(from)) {
    throw new UsageError(`--turns applies to request logs (--from ${TURN_FORMATS.join(' | ')}), which repeat the whole conversation on each call; ${from} traces hold one invocation of the agent each`)
  }
}

/** Pure: a file's text to records and tool definitions, with every unreadable unit located. */
export function importTrafficText(from: ImportFormat, text: string, file: string, mapping: ImportMapping = {}): ImportedTraffic {
  checkTurns(from, mapping)
  return IMPORTERS[from](text, file, mapping)
}

/**
 * The text of a file to import: read whole from a regular file (a pipe or directory is one clear
 * error); for otel, an OTLP/protobuf export is decoded into the OTLP/JSON shape the importer reads.
 */
export async function readForeignFile(from: ImportFormat, file: string): Promise<string> {
  let bytes: Buffer
  try {
    const handle = await openRegular(file)
    try {
      bytes = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new UnderstudyError(`${file}: cannot read: ${e.reason}`, {cause: e})
    throw new UnderstudyError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {cause: e})
  }
  let text: string
  if (from === 'otel' && looksLikeProtobuf(bytes)) {
    // OTLP/protobuf: decoded into the OTLP/JSON shape the one OTel importer reads.
    try {
      text = JSON.stringify(decodeOtlpProtobuf(bytes))
    } catch (e) {
      throw new ValidationError([`${file}: protobuf: not an OTLP ExportTraceServiceRequest (${(e as Error).message})`])
    }
  } else {
    text = bytes.toString('utf8')
  }
  return text
}

/**
 * Reads `file`, imports it and writes the requests that could be built as traffic JSONL to `out`,
 * atomically (a failure never leaves half a file, and an existing `out` is kept when nothing could
 * be built). Each unit that could not be read is in `errors` and skipped; with `strict`, any such
 * unit fails the import (a ValidationError listing them) before anything is written.
 */
export async function importTrafficFile(opts: {from: ImportFormat; file: string; out: string; mapping?: ImportMapping; strict?: boolean}): Promise<ImportFileResult> {
  checkTurns(opts.from, opts.mapping ?? {})
  const text = await readForeignFile(opts.from, opts.file)
  const result = importTrafficText(opts.from, text, opts.file, opts.mapping ?? {})
  if (opts.strict && result.errors.length > 0) {
    throw new ValidationError(result.errors, result.errors.length > 1 ? `${opts.file}: ${result.errors.length} problem(s); --strict: nothing written (first: ${result.errors[0]})` : undefined)
  }
  if (result.records.length > 0) await writeFileAtomicAsync(opts.out, result.records.map((r) => JSON.stringify(r) + '\n'))
  return {
    from: opts.from,
    file: opts.file,
    out: opts.out,
    read: result.units,
    written: result.records.length,
    skipped: result.errors.length,
    errors: result.errors,
    tools: result.tools,
  }
}
