import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useMemo, useRef, useState} from 'react'
import type {ComparedRequest} from '../diff/compare.js'
import type {CellMark} from '../report/sbs-model.js'
import type {RequestEntry} from './entries.js'
import {requestLines, type ViewLine} from './request-lines.js'
import {oneLine, type Segment} from './text.js'
import {Cell, CLASS_COLOUR, CLASS_LABEL, Line, StatusLine, useKeys, type KeyHelp} from './widgets.js'

export type RequestScreenProps = {
  entry: RequestEntry
  /** Reads and compares this one request again, in full (answer word diff included). */
  load: (entry: RequestEntry) => ComparedRequest
  width: number
  height: number
  onBack: () => void
  onQuit: () => void
}

const KEYS: KeyHelp = [
  ['↑↓/jk', 'scroll'],
  ['PgUp/Dn g/G', 'jump'],
  ['esc', 'back'],
  ['q', 'quit'],
]

/** Title, class line, column header, status line. */
const CHROME = 4

const GUTTER: Record<CellMark, string> = {same: '│', changed: '≠', removed: '<', added: '>'}
const MARK_COLOUR: Record<CellMark, string | undefined> = {same: undefined, changed: 'yellow', removed: 'red', added: 'green'}
const TONE_COLOUR: Record<Extract<ViewLine, {kind: 'note'}>['tone'], string | undefined> = {
  regression: 'red',
  improvement: 'green',
  behaviour_change: 'yellow',
  benign: 'cyan',
  noise: 'gray',
  plain: undefined,
}

type Loaded = {ok: true; request: ComparedRequest} | {ok: false; message: string}

export function RequestScreen({entry, load, width, height, onBack, onQuit}: RequestScreenProps): React.JSX.Element {
  const loaded = useMemo((): Loaded => {
    try {
      return {ok: true, request: load(entry)}
    } catch (e) {
      return {ok: false, message: (e as Error).message}
    }
  }, [entry, load])
  const col = Math.floor((width - 3) / 2)
  const rightW = width - 3 - col
  const lines = useMemo(
    (): ViewLine[] => (loaded.ok ? requestLines(loaded.request, col) : [{kind: 'note', text: `cannot read this request: ${loaded.message}`, tone: 'regression'}]),
    [loaded, col],
  )
  const bodyHeight = Math.max(1, height - CHROME)
  const maxTop = Math.max(0, lines.length - bodyHeight)
  const [top, setTop] = useState(0)
  // Keys can arrive before Ink re-subscribes the handler of the newest render: the handler works on
  // this mirror of the newest state, which it updates as it goes.
  const latest = useRef({top, maxTop, bodyHeight})
  latest.current = {top, maxTop, bodyHeight}
  const scroll = (to: (top: number, page: number, max: number) => number): void => {
    const v = latest.current
    v.top = Math.max(0, Math.min(v.maxTop, to(v.top, v.bodyHeight - 1, v.maxTop)))
    setTop(v.top)
  }

  useKeys((input, key) => {
    if (input === 'q') onQuit()
    else if (key.escape) onBack()
    else if (key.downArrow || input === 'j') scroll((t) => t + 1)
    else if (key.upArrow || input === 'k') scroll((t) => t - 1)
    else if (key.pageDown || input === ' ') scroll((t, page) => t + page)
    else if (key.pageUp) scroll((t, page) => t - page)
    else if (input === 'g' || key.home) scroll(() => 0)
    else if (input === 'G' || key.end) scroll((_t, _p, max) => max)
  })

  const request = loaded.ok ? loaded.request : null
  const diff = request?.diff ?? null
  const cls = request?.classification ?? null
  const who = diff ?? request?.cand ?? request?.base
  const shownTop = Math.min(top, maxTop)
  const first = cls?.reasons[0]?.message
  const more = cls && cls.reasons.length > 1 ? ` (+${cls.reasons.length - 1} more below)` : ''

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>
        {`request ${oneLine(entry.request_id)} · line ${entry.line}` +
          (who ? ` · tenant ${oneLine(who.tenant)} · user ${oneLine(who.user)} · role ${oneLine(who.role)}` : '')}
      </Line>
      <Line width={width}>
        <Text bold color={CLASS_COLOUR[cls?.class ?? 'incomplete']}>
          {CLASS_LABEL[cls?.class ?? 'incomplete'].toUpperCase()}
        </Text>
        {first ? ` ${oneLine(first)}${more}` : cls ? ' no difference' : ''}
      </Line>
      <Box height={1}>
        <Cell width={col} bold>{`BASE (${diff?.base_side ?? '-'})`}</Cell>
        <Cell width={3} dim>{' │ '}</Cell>
        <Cell width={rightW} bold>{`CANDIDATE (${diff?.cand_side ?? 'candidate'})`}</Cell>
      </Box>
      <Box flexDirection="column" height={bodyHeight}>
        {lines.slice(shownTop, shownTop + bodyHeight).map((l, i) => (
          <ViewRow key={shownTop + i} line={l} width={width} col={col} rightW={rightW} />
        ))}
      </Box>
      <StatusLine
        width={width}
        keys={KEYS}
        right={lines.length > bodyHeight ? `${shownTop + 1}-${Math.min(lines.length, shownTop + bodyHeight)}/${lines.length}` : undefined}
      />
    </Box>
  )
}

function Segments({parts, colour}: {parts: Segment[]; colour: string | undefined}): React.JSX.Element {
  return (
    <>
      {parts.map((p, i) =>
        p.style === 'del' ? (
          <Text key={i} color="red" inverse>
            {p.text}
          </Text>
        ) : p.style === 'ins' ? (
          <Text key={i} color="green" inverse>
            {p.text}
          </Text>
        ) : (
          <Text key={i} color={colour}>
            {p.text}
          </Text>
        ),
      )}
    </>
  )
}

function ViewRow({line, width, col, rightW}: {line: ViewLine; width: number; col: number; rightW: number}): React.JSX.Element {
  if (line.kind === 'title') {
    const text = `── ${line.text} `
    return (
      <Line width={width} color="cyan" bold>
        {text + '─'.repeat(Math.max(0, width - [...text].length))}
      </Line>
    )
  }
  if (line.kind === 'note') {
    return (
      <Line width={width} color={TONE_COLOUR[line.tone]}>
        {line.text}
      </Line>
    )
  }
  const colour = line.noise ? 'gray' : MARK_COLOUR[line.mark]
  const text = line.answer ? undefined : colour
  const gutter = line.noise && line.mark !== 'same' ? '~' : GUTTER[line.mark]
  return (
    <Box height={1}>
      <Cell width={col}>
        <Segments parts={line.left ?? []} colour={line.mark === 'added' ? undefined : text} />
      </Cell>
      <Cell width={3} color={colour}>{` ${gutter} `}</Cell>
      <Cell width={rightW}>
        <Segments parts={line.right ?? []} colour={line.mark === 'removed' ? undefined : text} />
      </Cell>
    </Box>
  )
}
