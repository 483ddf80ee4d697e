import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useEffect, useMemo, useRef, useState} from 'react'
import type {ComparedRequest} from '../diff/compare.js'
import type {CellMark} from '../report/sbs-model.js'
import type {RecordContext} from '../runs/request-record.js'
import {COPY_KEY, RUN_KEYS, type RunAction} from './app-keys.js'
import type {RequestEntry} from './entries.js'
import {HeldPanel, heldPanelHeight, type HeldRow} from './held-panel.js'
import {actionOf, briefKeys, char, commonKeys, type KeyTable} from './key-table.js'
import {requestLines, type ViewLine} from './request-lines.js'
import {oneLine, type Segment} from './text.js'
import {Cell, CLASS_COLOUR, CLASS_LABEL, Line, StatusLine, useKeys} from './widgets.js'

export type Decision = 'approve' | 'reject'

export type RequestScreenProps = {
  entry: RequestEntry
  /** Reads and compares this one request again, in full (answer word diff included). */
  load: (entry: RequestEntry) => ComparedRequest
  /**
   * The recorded request (conversation, documents, memory) from the run's traffic file, read in the
   * background: the view shows the diff at once and the context when it arrives (null: not found).
   */
  loadRecord?: (entry: RequestEntry) => Promise<RecordContext | null>
  /** The calls of the request's candidate trace held for approval, with the decisions in force now. */
  held: (request: ComparedRequest) => HeldRow[]
  /** Records a person's decision on a held call (throws with the message to show when it cannot). */
  decide: (ref: string, decision: Decision, reason: string | null) => void
  runId: string
  /** Where the request is in the list's order, e.g. `3/17`. */
  position: string
  width: number
  height: number
  onBack: () => void
  onQuit: () => void
  onHelp: () => void
  /** The next (1) or previous (-1) request of the list, in its current filter and order. */
  onStep: (delta: 1 | -1) => void
  onRunAction: (a: RunAction) => void
  onCopy: (requestId: string) => void
}

export const REQUEST_KEYS: KeyTable = [
  {action: 'down', keys: '↓ j', help: 'scroll down a line', match: (input, key) => key.downArrow || input === 'j', brief: ['↑↓/jk', 'scroll']},
  {action: 'up', keys: '↑ k', help: 'scroll up a line', match: (input, key) => key.upArrow || input === 'k', brief: ['↑↓/jk', 'scroll']},
  {action: 'pageDown', keys: 'PgDn space', help: 'scroll down a page', match: (input, key) => key.pageDown || input === ' '},
  {action: 'pageUp', keys: 'PgUp', help: 'scroll up a page', match: (_input, key) => key.pageUp},
  {action: 'first', keys: 'g Home', help: 'the top', match: (input, key) => input === 'g' || key.home},
  {action: 'last', keys: 'G End', help: 'the bottom (the final answers)', match: (input, key) => input === 'G' || key.end},
  char('next', 'n', 'the next request of the list (its filter and order)', 'next'),
  char('prev', 'p', 'the previous request of the list', 'prev'),
  char('approve', 'a', 'approve the held call under the cursor (a reason may follow; enter records it)'),
  char('reject', 'r', 'reject the held call under the cursor (a reason may follow; enter records it)'),
  {action: 'nextHeld', keys: 'tab', help: 'the next held call of this request', match: (_i, key) => key.tab},
  ...COPY_KEY,
  ...RUN_KEYS,
  {action: 'back', keys: 'esc', help: 'back to the requests', match: (_i, key) => key.escape, brief: ['esc', 'back']},
  ...commonKeys(),
]

export const REASON_KEYS: KeyTable = [
  {action: 'record', keys: 'enter', help: 'record the decision', match: (_i, key) => key.return, brief: ['enter', 'record']},
  {action: 'cancel', keys: 'esc', help: 'decide nothing', match: (_i, key) => key.escape, brief: ['esc', 'cancel']},
  {action: 'erase', keys: '⌫', help: 'erase a character', match: (_i, key) => key.backspace || key.delete},
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

type Prompt = {decision: Decision; ref: string; reason: string}

export function RequestScreen(props: RequestScreenProps): React.JSX.Element {
  const {entry, load, loadRecord, held, decide, runId, position, width, height, onBack, onQuit, onHelp, onStep, onRunAction, onCopy} = props
  const loaded = useMemo((): Loaded => {
    try {
      return {ok: true, request: load(entry)}
    } catch (e) {
      return {ok: false, message: (e as Error).message}
    }
  }, [entry, load])
  // Read again after each decision, so the panel shows what is recorded.
  const [decisions, setDecisions] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `decisions` counts the decisions recorded here, which change what `held` returns
  const heldRows = useMemo(() => (loaded.ok ? held(loaded.request) : []), [loaded, held, decisions])
  const [heldAt, setHeldAt] = useState(0)
  const [prompt, setPromptState] = useState<Prompt | null>(null)
  const [error, setError] = useState<string | null>(null)
  const col = Math.floor((width - 3) / 2)
  const rightW = width - 3 - col
  const [record, setRecord] = useState<RecordContext | null>(null)
  useEffect(() => {
    setRecord(null)
    if (!loadRecord) return
    let live = true
    // A traffic file that cannot be read leaves the view without context, never broken.
    loadRecord(entry).then(
      (r) => live && setRecord(r),
      () => {},
    )
    return () => {
      live = false
    }
  }, [entry, loadRecord])
  const lines = useMemo(
    (): ViewLine[] => (loaded.ok ? requestLines(loaded.request, col, {record}) : [{kind: 'note', text: `cannot read this request: ${loaded.message}`, tone: 'regression'}]),
    [loaded, col, record],
  )
  const panel = heldPanelHeight(heldRows.length)
  const bodyHeight = Math.max(1, height - CHROME - panel - (error ? 1 : 0))
  const maxTop = Math.max(0, lines.length - bodyHeight)
  const [top, setTop] = useState(0)
  // Keys can arrive before Ink re-subscribes the handler of the newest render: the handler works on
  // this mirror of the newest state, which it updates as it goes.
  const latest = useRef({top, maxTop, bodyHeight, heldAt, heldRows, prompt})
  latest.current = {top, maxTop, bodyHeight, heldAt, heldRows, prompt: latest.current.prompt}
  const setPrompt = (p: Prompt | null): void => {
    latest.current.prompt = p
    setPromptState(p)
  }
  const scroll = (to: (top: number, page: number, max: number) => number): void => {
    const v = latest.current
    v.top = Math.max(0, Math.min(v.maxTop, to(v.top, v.bodyHeight - 1, v.maxTop)))
    setTop(v.top)
  }

  useKeys((input, key) => {
    const p = latest.current.prompt
    if (p !== null) {
      const a = actionOf(REASON_KEYS, input, key)
      if (a === 'cancel') setPrompt(null)
      else if (a === 'record') {
        setPrompt(null)
        try {
          decide(p.ref, p.decision, p.reason.trim() === '' ? null : p.reason.trim())
          setError(null)
        } catch (e) {
          setError((e as Error).message)
        }
        setDecisions((n) => n + 1)
      } else if (a === 'erase') setPrompt({...p, reason: [...p.reason].slice(0, -1).join('')})
      else if (input && !key.ctrl && !key.meta) setPrompt({...p, reason: p.reason + oneLine(input)})
      return
    }
    const a = actionOf(REQUEST_KEYS, input, key)
    const v = latest.current
    switch (a) {
      case 'quit':
        return onQuit()
      case 'help':
        return onHelp()
      case 'back':
        return onBack()
      case 'down':
        return scroll((t) => t + 1)
      case 'up':
        return scroll((t) => t - 1)
      case 'pageDown':
        return scroll((t, page) => t + page)
      case 'pageUp':
        return scroll((t, page) => t - page)
      case 'first':
        return scroll(() => 0)
      case 'last':
        return scroll((_t, _p, max) => max)
      case 'next':
        return onStep(1)
      case 'prev':
        return onStep(-1)
      case 'copy':
        return onCopy(entry.request_id)
      case 'scorecard':
      case 'report':
        return onRunAction(a)
      case 'nextHeld':
        if (v.heldRows.length > 0) {
          v.heldAt = (v.heldAt + 1) % v.heldRows.length
          setHeldAt(v.heldAt)
        }
        return
      case 'approve':
      case 'reject': {
        const h = v.heldRows[Math.min(v.heldAt, v.heldRows.length - 1)]
        if (h) setPrompt({decision: a, ref: h.ref, reason: ''})
        else setError('no call of this request is held for approval')
        return
      }
    }
  })

  const request = loaded.ok ? loaded.request : null
  const diff = request?.diff ?? null
  const cls = request?.classification ?? null
  const who = diff ?? request?.cand ?? request?.base
  const shownTop = Math.min(top, maxTop)
  const first = cls?.reasons[0]?.message
  const more = cls && cls.reasons.length > 1 ? ` (+${cls.reasons.length - 1} more below)` : ''
  const scrolled = lines.length > bodyHeight ? `${shownTop + 1}-${Math.min(lines.length, shownTop + bodyHeight)}/${lines.length} · ` : ''

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
      <HeldPanel rows={heldRows} selected={Math.min(heldAt, heldRows.length - 1)} runId={runId} width={width} />
      {error ? (
        <Line width={width} color="red">
          {error}
        </Line>
      ) : null}
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
      {prompt !== null ? (
        <Box height={1} width={width}>
          <Cell width={width}>
            <Text bold color={prompt.decision === 'approve' ? 'green' : 'red'}>{`${prompt.decision} ${oneLine(prompt.ref)}`}</Text>
            <Text dimColor>{' reason (optional): '}</Text>
            {oneLine(prompt.reason)}
            <Text inverse> </Text>
            <Text dimColor>{`  ${briefKeys(REASON_KEYS).map(([k, a]) => `${k} ${a}`).join(' · ')}`}</Text>
          </Cell>
        </Box>
      ) : (
        <StatusLine width={width} keys={briefKeys(REQUEST_KEYS)} right={`${scrolled}${position}`} />
      )}
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
