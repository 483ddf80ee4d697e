import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useRef} from 'react'
import {describeSignature, type CauseGroup} from '../diff/cause.js'
import type {RunInfo} from '../store/api.js'
import type {TraceSide} from '../trace/schema.js'
import {scrollTop} from './entries.js'
import type {LoadState} from './loader.js'
import {oneLine} from './text.js'
import {Cell, CLASS_COLOUR, CLASS_LABEL, Line, StatusLine, useKeys} from './widgets.js'
import {RUN_KEYS, type RunAction} from './app-keys.js'
import {isListAction, LIST_KEYS, STEP} from './cursor-keys.js'
import {actionOf, briefKeys, char, commonKeys, type KeyTable} from './key-table.js'

/** Where the user is in the causes list; kept by the app so that it survives drilling down. */
export type CausesPosition = {cursor: number; top: number}

export type CausesScreenProps = {
  run: RunInfo
  baseSide: TraceSide
  load: LoadState
  position: CausesPosition
  setPosition: (p: CausesPosition) => void
  width: number
  height: number
  /** A cause's requests, or every request (null). */
  onOpen: (cause: CauseGroup | null) => void
  onBack: () => void
  onQuit: () => void
  onHelp: () => void
  onRunAction: (a: RunAction) => void
}

export const CAUSES_KEYS: KeyTable = [
  ...LIST_KEYS,
  {action: 'open', keys: 'enter', help: 'the requests of the cause under the cursor', match: (_i, key) => key.return, brief: ['enter', 'requests']},
  char('all', 'a', 'every request of the run', 'all requests'),
  ...RUN_KEYS,
  {action: 'back', keys: 'esc', help: 'back to the runs', match: (_i, key) => key.escape, brief: ['esc', 'back']},
  ...commonKeys(),
]

/** Title, info line, column header, status line. */
const CHROME = 4

/**
 * A run's first screen: its differences grouped by cause, most harmful first, then largest; the
 * first row is every request. Enter drills down to the requests of the row under the cursor.
 */
export function CausesScreen(props: CausesScreenProps): React.JSX.Element {
  const {run, baseSide, load, position, setPosition, width, height, onOpen, onBack, onQuit, onHelp, onRunAction} = props
  // Sorted again only after the load added requests (the tally keeps its last answer).
  const groups = load.causes.groupsSorted()
  const rows: (CauseGroup | null)[] = [null, ...groups]
  const listHeight = Math.max(1, height - CHROME)
  const cursor = Math.max(0, Math.min(position.cursor, rows.length - 1))
  const top = scrollTop(cursor, position.top, listHeight, rows.length)

  // Keys can arrive before Ink re-subscribes the handler of the newest render: the handler works on
  // this mirror of the newest state, which it updates as it goes.
  const latest = useRef({rows, cursor, top, listHeight})
  latest.current = {rows, cursor, top, listHeight}
  useKeys((input, key) => {
    const a = actionOf(CAUSES_KEYS, input, key)
    const v = latest.current
    if (a === null) return
    if (isListAction(a)) {
      const c = Math.max(0, Math.min(v.rows.length - 1, STEP[a](v.cursor, v.listHeight, v.rows.length)))
      const next = {cursor: c, top: scrollTop(c, v.top, v.listHeight, v.rows.length)}
      Object.assign(latest.current, next)
      setPosition(next)
    } else if (a === 'quit') onQuit()
    else if (a === 'help') onHelp()
    else if (a === 'back') onBack()
    else if (a === 'all') onOpen(null)
    else if (a === 'scorecard' || a === 'report') onRunAction(a)
    else if (a === 'open' && v.cursor < v.rows.length) onOpen(v.rows[v.cursor] ?? null)
  })

  const differing = groups.reduce((n, g) => n + g.requests, 0)
  const c = load.counts
  const status = load.error
    ? `loading failed: ${load.error}`
    : `${groups.length} cause${groups.length === 1 ? '' : 's'} of ${differing} differing request${differing === 1 ? '' : 's'} · ${c.total} ${load.done ? 'compared' : 'loaded…'} vs ${baseSide}`
  const classW = 12
  const idW = 11
  const countW = Math.max(6, String(c.total).length + 1)
  const whatW = Math.max(0, width - 2 - classW - idW - countW)

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>
        {`run ${run.id} · causes · ${oneLine(run.candidate_ref)} vs ${oneLine(run.baseline_ref)}`}
      </Line>
      <Line width={width} color={load.error ? 'red' : load.done ? undefined : 'yellow'} dim={load.done && !load.error}>
        {status}
      </Line>
      <Box height={1}>
        <Cell width={2}> </Cell>
        <Cell gap width={classW} dim>CLASS</Cell>
        <Cell gap width={idW} dim>CAUSE</Cell>
        <Cell gap width={countW} dim>{'REQS'.padStart(countW - 1)}</Cell>
        <Cell width={whatW} dim>WHAT CHANGED</Cell>
      </Box>
      <Box flexDirection="column" height={listHeight}>
        {rows.slice(top, top + listHeight).map((g, i) => {
          const active = top + i === cursor
          return (
            <Box key={g?.cause ?? '(all)'} height={1}>
              <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
              <Cell gap width={classW} color={g ? CLASS_COLOUR[g.class] : undefined}>{g ? CLASS_LABEL[g.class] : 'all'}</Cell>
              <Cell gap width={idW} inverse={active}>{g ? g.cause : '—'}</Cell>
              <Cell gap width={countW}>{String(g ? g.requests : c.total).padStart(countW - 1)}</Cell>
              <Cell width={whatW}>{g ? describeSignature(g.signature) : <Text dimColor>every request of the run</Text>}</Cell>
            </Box>
          )
        })}
      </Box>
      <StatusLine width={width} keys={briefKeys(CAUSES_KEYS)} right={`${cursor + 1}/${rows.length}`} />
    </Box>
  )
}
