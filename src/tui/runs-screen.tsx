import {Box, Text, useInput} from 'ink'
import React, {useState} from 'react'
import type {RunInfo, RunStatus} from '../store/api.js'
import {scrollTop} from './entries.js'
import {oneLine, shortStarted} from './text.js'
import {Cell, Line, StatusLine, type KeyHelp} from './widgets.js'

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
  const [cursor, setCursor] = useState(0)
  const [top, setTop] = useState(0)
  const listHeight = Math.max(1, height - CHROME)

  const move = (to: number): void => {
    const c = Math.max(0, Math.min(runs.length - 1, to))
    setCursor(c)
    setTop((t) => scrollTop(c, t, listHeight, runs.length))
  }

  useInput((input, key) => {
    if (input === 'q') onQuit()
    else if (key.downArrow || input === 'j') move(cursor + 1)
    else if (key.upArrow || input === 'k') move(cursor - 1)
    else if (key.pageDown) move(cursor + listHeight)
    else if (key.pageUp) move(cursor - listHeight)
    else if (input === 'g' || key.home) move(0)
    else if (input === 'G' || key.end) move(runs.length - 1)
    else if (key.return && runs[cursor]) onOpen(runs[cursor])
  })

  const idW = 24
  const statusW = 12
  const startedW = 17
  const requestsW = 13
  const rest = Math.max(0, width - 2 - idW - statusW - startedW - requestsW)
  const modelW = Math.floor(rest * 0.35)
  const refsW = rest - modelW
  const selected = runs[cursor]
  const shown = runs.slice(top, top + listHeight)

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>
        {`understudy · ${runs.length} run${runs.length === 1 ? '' : 's'} in ${dbPath}`}
      </Line>
      <Box height={1}>
        <Cell width={2}> </Cell>
        <Cell width={idW} dim>ID</Cell>
        <Cell width={statusW} dim>STATUS</Cell>
        <Cell width={startedW} dim>STARTED (UTC)</Cell>
        <Cell width={refsW} dim>CANDIDATE vs BASELINE</Cell>
        <Cell width={modelW} dim>MODEL</Cell>
        <Cell width={requestsW} dim>{' REQUESTS'}</Cell>
      </Box>
      <Box flexDirection="column" height={listHeight}>
        {runs.length === 0 ? <Text dimColor>no runs in this store yet: start one with `understudy shadow`</Text> : null}
        {shown.map((r, i) => {
          const active = top + i === cursor
          return (
            <Box key={r.id} height={1}>
              <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
              <Cell width={idW} inverse={active}>{r.id}</Cell>
              <Cell width={statusW} color={STATUS_COLOUR[r.status]}>{` ${r.status}`}</Cell>
              <Cell width={startedW}>{shortStarted(r.started_at)}</Cell>
              <Cell width={refsW}>{`${shortRef(r.candidate_ref)} vs ${shortRef(r.baseline_ref)}`}</Cell>
              <Cell width={modelW} dim>{r.model}</Cell>
              <Cell width={requestsW}>{` ${requestsOf(r)}`.padStart(requestsW)}</Cell>
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
