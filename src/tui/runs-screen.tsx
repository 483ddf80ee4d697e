import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useRef, useState} from 'react'
import type {RunInfo, RunStatus} from '../store/api.js'
import {scrollTop} from './entries.js'
import {oneLine, shortStarted} from './text.js'
import {Cell, Line, StatusLine, useKeys, type KeyHelp} from './widgets.js'
import {type CursorStep, cursorStep} from './cursor-keys.js'

export type RunsScreenProps = {
  runs: readonly RunInfo[]
  dbPath: string
  width: number
  height: number
  onOpen: (run: RunInfo) => void
  onQuit: () => void
}

const KEYS: KeyHelp = [
  ['↑↓/jk', 'move'],
  ['enter', 'open'],
  ['q', 'quit'],
]

const STATUS_COLOUR: Record<RunStatus, string> = {running: 'cyan', completed: 'green', interrupted: 'yellow', failed: 'red'}

/** `support@2.0.0#0123456789ab` → `support@2.0.0`: the hash is in the detail pane. */
const shortRef = (ref: string): string => ref.replace(/#[0-9a-f]+$/, '')

const requestsOf = (r: RunInfo): string => (r.requests_total === null ? String(r.requests_done) : `${r.requests_done}/${r.requests_total}`)

/** Lines used by everything but the list: title, header, detail pane (3), status line. */
const CHROME = 6

export function RunsScreen({runs, dbPath, width, height, onOpen, onQuit}: RunsScreenProps): React.JSX.Element {
  const [pos, setPos] = useState({cursor: 0, top: 0})
  const {cursor, top} = pos
  const listHeight = Math.max(2, height - CHROME)
  const perPage = Math.floor(listHeight / 2)
  // Keys can arrive before Ink re-subscribes the handler of the newest render: the handler works on
  // this mirror of the newest state, which it updates as it goes.
  const latest = useRef({cursor, top, perPage})
  latest.current = {cursor, top, perPage}

  const move = (to: CursorStep): void => {
    const v = latest.current
    const c = Math.max(0, Math.min(runs.length - 1, to(v.cursor, v.perPage, runs.length)))
    const next = {cursor: c, top: scrollTop(c, v.top, v.perPage, runs.length)}
    Object.assign(latest.current, next)
    setPos(next)
  }

  useKeys((input, key) => {
    const step = cursorStep(input, key)
    if (input === 'q') onQuit()
    else if (step) move(step)
    else if (key.return) {
      const r = runs[latest.current.cursor]
      if (r) onOpen(r)
    }
  })

  const idW = 25
  const statusW = 12
  const startedW = 17
  const requestsW = Math.max(9, ...runs.map((r) => requestsOf(r).length))
  const selected = runs[cursor]
  const shown = runs.slice(top, top + perPage)

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>
        {`understudy · ${runs.length} run${runs.length === 1 ? '' : 's'} in ${dbPath}`}
      </Line>
      <Box height={1}>
        <Cell width={2}> </Cell>
        <Cell gap width={idW} dim>ID</Cell>
        <Cell gap width={statusW} dim>STATUS</Cell>
        <Cell gap width={startedW} dim>STARTED (UTC)</Cell>
        <Cell width={requestsW} dim>{'REQUESTS'.padStart(requestsW)}</Cell>
      </Box>
      <Box flexDirection="column" height={listHeight}>
        {runs.length === 0 ? <Text dimColor>no runs in this store yet: start one with `understudy shadow`</Text> : null}
        {shown.map((r, i) => {
          const active = top + i === cursor
          // Two lines a run: the refs and the model would not fit next to the rest at 80 columns.
          return (
            <Box key={r.id} flexDirection="column" height={2}>
              <Box height={1}>
                <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
                <Cell gap width={idW} inverse={active}>{r.id}</Cell>
                <Cell gap width={statusW} color={STATUS_COLOUR[r.status]}>{r.status}</Cell>
                <Cell gap width={startedW}>{shortStarted(r.started_at)}</Cell>
                <Cell width={requestsW}>{requestsOf(r).padStart(requestsW)}</Cell>
              </Box>
              <Line width={width} dim={!active}>
                {`    ${oneLine(shortRef(r.candidate_ref))} vs ${oneLine(shortRef(r.baseline_ref))} · ${oneLine(r.model)}`}
              </Line>
            </Box>
          )
        })}
      </Box>
      <Box flexDirection="column" height={3}>
        {selected ? (
          <>
            <Line width={width}>
              <Text dimColor>candidate </Text>
              {oneLine(selected.candidate_ref)}
              <Text dimColor>{'  model '}</Text>
              {oneLine(selected.model)}
            </Line>
            <Line width={width}>
              <Text dimColor>baseline </Text>
              {oneLine(selected.baseline_ref)}
              <Text dimColor>{'  repeat '}</Text>
              {selected.repeat}
              <Text dimColor>{'  faults '}</Text>
              {oneLine(selected.faults ?? 'none')}
            </Line>
            <Line width={width}>
              <Text dimColor>traffic </Text>
              {oneLine(selected.traffic_file)}
              {selected.name ? <Text dimColor>{`  name ${oneLine(selected.name)}`}</Text> : null}
            </Line>
          </>
        ) : null}
      </Box>
      <StatusLine width={width} keys={KEYS} right={runs.length > 0 ? `${cursor + 1}/${runs.length}` : undefined} />
    </Box>
  )
}
