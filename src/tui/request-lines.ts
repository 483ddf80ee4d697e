import type {ComparedRequest} from '../diff/compare.js'
import {contextTextLines, requestContext} from '../report/request-context.js'
import {sideBySideModel, type CellMark} from '../report/sbs-model.js'
import type {RecordContext} from '../runs/request-record.js'
import {traceContext} from '../runs/request-record.js'
import {breakToWidth} from '../util/display-width.js'
import {oneLine, wrapSegments, type Segment} from './text.js'

/**
 * The side-by-side request view as a flat list of lines, so the screen can scroll it by line. The
 * alignment comes from the report's side-by-side model; only the final answers are wrapped here,
 * to the column width the screen has.
 */

export type ViewLine =
  | {kind: 'title'; text: string}
  | {kind: 'note'; text: string; tone: 'regression' | 'improvement' | 'behaviour_change' | 'benign' | 'noise' | 'plain'}
  | {kind: 'row'; left: Segment[] | null; right: Segment[] | null; mark: CellMark; noise: boolean; /** Final-answer text: only its changed words are marked. */ answer?: boolean}

const plain = (s: string | null): Segment[] | null => (s === null ? null : [{text: oneLine(s), style: ''}])

export type RequestLinesOptions = {
  /** The recorded request (conversation, documents, memory), when the caller could read it. */
  record?: RecordContext | null
  /** Width of a full-width line (default: both columns and the gutter). */
  width?: number
}

/** Context sections shown after the final answer rather than before the columns: the calls in full. */
const AFTER = / tool calls in full$/

export function requestLines(r: ComparedRequest, columnWidth: number, options: RequestLinesOptions = {}): ViewLine[] {
  if (!r.diff || !r.classification) {
    const have = r.base ?? r.cand
    const lines: ViewLine[] = [{kind: 'note', text: r.cand ? 'no base trace for this request: nothing to compare' : 'no candidate trace for this request: nothing to compare', tone: 'plain'}]
    if (have) lines.push({kind: 'note', text: `${have.side}: status ${have.status}${have.error ? ` (${oneLine(have.error)})` : ''}`, tone: 'plain'})
    return lines
  }
  const lines: ViewLine[] = []
  const {reasons, noise} = r.classification
  if (reasons.length > 0 || noise.length > 0) {
    lines.push({kind: 'title', text: 'reasons'})
    for (const x of reasons) lines.push({kind: 'note', text: `[${x.class}] ${x.code}: ${oneLine(x.message)}`, tone: x.class})
    for (const x of noise) lines.push({kind: 'note', text: `~ noise ${x.code}: ${oneLine(x.message)}`, tone: 'noise'})
  }
  // The request's context: what it was about, and each side's calls in full (long text folded, with its size).
  const width = Math.max(10, options.width ?? columnWidth * 2 + 3)
  const context = contextTextLines(requestContext(options.record ?? null, {base: traceContext(r.base), cand: traceContext(r.cand)}))
  const contextSection = (section: {title: string; lines: string[]}): void => {
    lines.push({kind: 'title', text: section.title})
    for (const l of section.lines) {
      // Wrapped, never cut: a continuation keeps the line's indent.
      const text = oneLine(l)
      const indent = /^ */.exec(text)![0].slice(0, Math.max(0, width - 10))
      for (const piece of breakToWidth(text.slice(indent.length), width - indent.length, width - indent.length))
        lines.push({kind: 'note', text: indent + piece, tone: 'plain'})
    }
  }
  for (const section of context) if (!AFTER.test(section.title)) contextSection(section)
  const model = sideBySideModel(r.diff, r.classification)
  for (const section of model.sections) {
    if (section.rows.length === 0) continue
    lines.push({kind: 'title', text: section.title})
    for (const row of section.rows) lines.push({kind: 'row', left: plain(row.left), right: plain(row.right), mark: row.mark, noise: row.noise})
  }
  lines.push({kind: 'title', text: model.answer.changed ? 'final answer (changed)' : 'final answer'})
  const left = wrapSegments(
    model.answer.parts.filter((p) => !p.added).map((p): Segment => ({text: p.value, style: p.removed ? 'del' : ''})),
    columnWidth,
  )
  const right = wrapSegments(
    model.answer.parts.filter((p) => !p.removed).map((p): Segment => ({text: p.value, style: p.added ? 'ins' : ''})),
    columnWidth,
  )
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    lines.push({kind: 'row', left: left[i] ?? [], right: right[i] ?? [], mark: model.answer.changed ? 'changed' : 'same', noise: false, answer: true})
  }
  for (const section of context) if (AFTER.test(section.title)) contextSection(section)
  return lines
}
