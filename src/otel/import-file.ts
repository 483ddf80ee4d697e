import {UnderstudyError} from '../errors.js'
import {NotRegularFileError, readRegularFile} from '../util/regular-file.js'
import {writeFileAtomicAsync} from '../util/atomic-write.js'
import {importOtlpText} from './import.js'

export type ImportFileResult = {file: string; out: string; traces: number; written: number; errors: string[]}

/**
 * Reads an OTLP/JSON file and writes the requests that could be built as traffic JSONL to `out`
 * (atomically: a temp file renamed into place, so a failure never leaves half a file). Traces
 * that could not be built are returned as errors; the caller decides the exit code.
 */
export async function importOtelFile(file: string, out: string): Promise<ImportFileResult> {
  let text: string
  try {
    text = await readRegularFile(file)
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new UnderstudyError(`${file}: cannot read: ${e.reason}`, {cause: e})
    throw new UnderstudyError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {cause: e})
  }
  const result = importOtlpText(text, file)
  if (result.records.length > 0) {
    await writeFileAtomicAsync(out, result.records.map((r) => JSON.stringify(r) + '\n'))
  }
  return {file, out, traces: result.traces, written: result.records.length, errors: result.errors}
}
