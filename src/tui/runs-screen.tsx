import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useRef, useState} from 'react'
import type {RunInfo, RunStatus} from '../store/api.js'
import {scrollTop} from './entries.js'
import {oneLine, shortStarted} from './text.js'
import {Cell, Line, StatusLine, useKeys} from './widgets.js'
import {RUN_KEYS, type RunAction} from './app-keys.js'
import {isListAction, LIST_KEYS, STEP} from './cursor-keys.js'
import {actionOf, briefKeys, commonKeys, type KeyTable} from './key-table.js'
import {useRunVerdicts, type RunVerdict, type VerdictCache} from './run-verdicts.js'

export type RunsScreenProps = {
  runs: readonly RunInfo[]
  dbPath: string
  width: number
  height: number
  /** The VERDICT and REGR columns, worked out lazily for the rows on screen. */
  verdicts: VerdictCache
  onOpen: (run: RunInfo) => void
  onQuit: () => void
  onHelp: () => void
  onRunAction: (a: RunAction, run: RunInfo) => void
}

export const RUNS_KEYS: KeyTable = [
  ...LIST_KEYS,
  {action: 'open', keys: 'enter', help: 'open the run on its causes', match: (_i, key) => key.return, brief: ['enter', 'open']},
  ...RUN_KEYS,
  ...commonKeys(),
]

const VERDICT_COLOUR: Record<string, string> = {green: 'green', amber: 'yellow', red: 'red'}

/** The verdict cell: the scorecard's colour, `…` until worked out, `?` when it could not be. */
function verdictText(v: RunVerdict | undefined): {text: string; colour?: string; regr: string} {
  if (v === undefined) return {text: '…', regr: '…'}
  if ('error' in v) return {text: '?', regr: '?'}
  return {text: v.colour, colour: VERDICT_COLOUR[v.colour], regr: String(v.regressions)}
}

const STATUS_COLOUR: Record<RunStatus, string> = {running: 'cyan', completed: 'green', interrupted: 'yellow', failed: 'red'}

/** `support@2.0.0#0123456789ab` → `support@2.0.0`: the hash is in the detail pane. */
const shortRef = (ref: string): string => ref.replace(/#[0-9a-f]+$/, '')

const requestsOf = (r: RunInfo): string => (r.requests_total === null ? String(r.requests_done) : `${r.requests_done}/${r.requests_total}`)

/** Lines used by everything but the list: title, header, detail pane (3), status line. */
const CHROME = 6

export function RunsScreen({runs, dbPath, width, height, verdicts, onOpen, onQuit, onHelp, onRunAction}: RunsScreenProps): React.JSX.Element {
  const [pos, setPos] = useState({cursor: 0, top: 0})
  const {cursor, top} = pos
  const listHeight = Math.max(2, height - CHROME)
  const perPage = Math.floor(listHeight / 2)
  // Keys can arrive before Ink re-subscribes the handler of the newest render: the handler works on
  // this mirror of the newest state, which it updates as it goes.
  const latest = useRef({cursor, top, perPage})
  latest.current = {cursor, top, perPage}

  useKeys((input, key) => {
    const a = actionOf(RUNS_KEYS, input, key)
    const v = latest.current
    if (a === null) return
    if (isListAction(a)) {
      const c = Math.max(0, Math.min(runs.length - 1, STEP[a](v.cursor, v.perPage, runs.length)))
      const next = {cursor: c, top: scrollTop(c, v.top, v.perPage, runs.length)}
      Object.assign(latest.current, next)
      setPos(next)
      return
    }
    const r = runs[v.cursor]
    if (a === 'quit') onQuit()
    else if (a === 'help') onHelp()
    else if (r && a === 'open') onOpen(r)
    else if (r && (a === 'scorecard' || a === 'report')) onRunAction(a, r)
  })

  const idW = 25
  const statusW = 12
  const startedW = 17
  const requestsW = Math.max(9, ...runs.map((r) => requestsOf(r).length))
  const verdictW = 8
  const regrW = 5
  const selected = runs[cursor]
  const shown = runs.slice(top, top + perPage)
  const verdictOf = useRunVerdicts(verdicts, shown)

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
        <Cell gap width={requestsW + 1} dim>{'REQUESTS'.padStart(requestsW)}</Cell>
        <Cell gap width={verdictW} dim>VERDICT</Cell>
        <Cell width={regrW} dim>{'REGR'.padStart(regrW)}</Cell>
      </Box>
      <Box flexDirection="column" height={listHeight}>
        {runs.length === 0 ? <Text dimColor>no runs in this store yet: start one with `understudy shadow`</Text> : null}
        {shown.map((r, i) => {
          const active = top + i === cursor
          const verdict = verdictText(verdictOf(r))
          // Two lines a run: the refs and the model would not fit next to the rest at 80 columns.
          return (
            <Box key={r.id} flexDirection="column" height={2}>
              <Box height={1}>
                <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
                <Cell gap width={idW} inverse={active}>{r.id}</Cell>
                <Cell gap width={statusW} color={STATUS_COLOUR[r.status]}>{r.status}</Cell>
                <Cell gap width={startedW}>{shortStarted(r.started_at)}</Cell>
                <Cell gap width={requestsW + 1}>{requestsOf(r).padStart(requestsW)}</Cell>
                <Cell gap width={verdictW} color={verdict.colour} dim={verdict.colour === undefined}>{verdict.text}</Cell>
                <Cell width={regrW} dim={verdict.colour === undefined}>{verdict.regr.padStart(regrW)}</Cell>
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
      <StatusLine width={width} keys={briefKeys(RUNS_KEYS)} right={runs.length > 0 ? `${cursor + 1}/${runs.length}` : undefined} />
    </Box>
  )
}
