import {Box, useApp} from 'ink'
import {ColourContext} from '../cli/colour-text.js'
import type React from 'react'
import {useCallback, useEffect, useMemo, useState} from 'react'
import {baseSideOf, compareGroup, type ComparedRequest} from '../diff/compare.js'
import {requestGroup} from '../runs/group.js'
import type {RunInfo, TraceDatabase, TraceStore} from '../store/api.js'
import {CauseTally} from '../diff/cause.js'
import {CausesScreen, type CausesPosition} from './causes-screen.js'
import {emptyCounts, type RequestEntry} from './entries.js'
import {loadEntries, type LoadState} from './loader.js'
import {initialListState, RequestsScreen, type ListState} from './requests-screen.js'
import {RequestScreen} from './request-screen.js'
import {RunsScreen} from './runs-screen.js'
import {KeyRouter, useTerminalSize, type Size} from './widgets.js'

export type TuiAppProps = {
  /** Lists runs and reads single requests. */
  store: Pick<TraceDatabase, 'path' | 'listRuns' | 'iterateTraces'>
  /**
   * Opens a second connection for the list's streaming comparison: a store connection is busy
   * while an iterator is open, and opening a request must not wait for the list to finish loading.
   * The app closes what this returns.
   */
  openReader: () => Pick<TraceStore, 'iterateTraces' | 'close'>
  /** Start on this run (its causes) instead of the runs list. */
  initialRun?: RunInfo
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
  size?: Size
  /** Whether the screens may colour their text (src/cli/colour.ts); on unless told. */
  colour?: boolean
}

type Screen = {name: 'runs'} | {name: 'causes'} | {name: 'requests'} | {name: 'request'; entry: RequestEntry}

const blankLoad = (): LoadState => ({entries: [], counts: emptyCounts(), widest: {id: 0, tenant: 0, line: 0}, causes: new CauseTally(), done: false, error: null})

const TOP: CausesPosition = {cursor: 0, top: 0}

/** Streams the comparison of `run` once per run, re-rendering as slices arrive. */
function useRunLoad(run: RunInfo | null, openReader: TuiAppProps['openReader']): LoadState {
  const [load, setLoad] = useState<{runId: string | null; state: LoadState; tick: number}>({runId: null, state: blankLoad(), tick: 0})
  useEffect(() => {
    if (!run) return
    let cancelled = false
    let reader: ReturnType<typeof openReader>
    try {
      reader = openReader()
    } catch (e) {
      setLoad({runId: run.id, state: {...blankLoad(), done: true, error: (e as Error).message}, tick: 0})
      return
    }
    setLoad({runId: run.id, state: blankLoad(), tick: 0})
    void loadEntries(reader.iterateTraces(run.id), baseSideOf(run), {
      cancelled: () => cancelled,
      // The state object is mutated in place; the tick tells React it changed.
      onProgress: (state) => {
        if (!cancelled) setLoad((prev) => ({runId: run.id, state, tick: prev.tick + 1}))
      },
    }).finally(() => reader.close())
    return () => {
      cancelled = true
    }
  }, [run, openReader])
  return load.runId === run?.id ? load.state : blankLoad()
}

export function TuiApp({store, openReader, initialRun, size, colour = true}: TuiAppProps): React.JSX.Element {
  const {exit} = useApp()
  const {columns, rows} = useTerminalSize(size)
  // One line short of the terminal: a frame as tall as the terminal makes Ink redraw the whole screen each time.
  const height = Math.max(8, rows - 1)
  const width = Math.max(40, columns)
  const runs = useMemo(() => store.listRuns(), [store])
  const [run, setRun] = useState<RunInfo | null>(initialRun ?? null)
  // A run opens on its causes; Enter drills down to a cause's requests, then to one request.
  const [screen, setScreen] = useState<Screen>(initialRun ? {name: 'causes'} : {name: 'runs'})
  const [list, setList] = useState<ListState>(initialListState)
  const [causesAt, setCausesAt] = useState<CausesPosition>(TOP)
  const load = useRunLoad(run, openReader)

  const loadRequest = useCallback(
    (entry: RequestEntry): ComparedRequest => {
      if (!run) throw new Error('no run open')
      const group = requestGroup(store, run, entry.request_id, entry.line)
      if (group !== undefined) return compareGroup(group, baseSideOf(run), {answerParts: true})
      throw new Error(`request ${entry.request_id} is no longer in run ${run.id}`)
    },
    [store, run],
  )

  const quit = (): void => exit()

  let body: React.JSX.Element
  if (screen.name === 'runs' || !run) {
    body = (
      <RunsScreen
        runs={runs}
        dbPath={store.path}
        width={width}
        height={height}
        onQuit={quit}
        onOpen={(r) => {
          if (r.id !== run?.id) {
            setRun(r)
            setList(initialListState)
            setCausesAt(TOP)
          }
          setScreen({name: 'causes'})
        }}
      />
    )
  } else if (screen.name === 'causes') {
    body = (
      <CausesScreen
        run={run}
        baseSide={baseSideOf(run)}
        load={load}
        position={causesAt}
        setPosition={setCausesAt}
        width={width}
        height={height}
        onQuit={quit}
        onBack={() => setScreen({name: 'runs'})}
        onOpen={(g) => {
          const cause = g?.cause ?? null
          // Another cause starts at the top of its list; the same one keeps its place.
          if (cause !== list.cause) setList({...initialListState, cause})
          setScreen({name: 'requests'})
        }}
      />
    )
  } else if (screen.name === 'requests') {
    body = (
      <RequestsScreen
        run={run}
        baseSide={baseSideOf(run)}
        load={load}
        list={list}
        setList={setList}
        width={width}
        height={height}
        onQuit={quit}
        onBack={() => setScreen({name: 'causes'})}
        onOpen={(entry) => setScreen({name: 'request', entry})}
      />
    )
  } else {
    body = (
      <RequestScreen
        entry={screen.entry}
        load={loadRequest}
        width={width}
        height={height}
        onQuit={quit}
        onBack={() => setScreen({name: 'requests'})}
      />
    )
  }
  return (
    <ColourContext.Provider value={colour}>
      <KeyRouter>
        <Box width={width} height={height} flexDirection="column">
          {body}
        </Box>
      </KeyRouter>
    </ColourContext.Provider>
  )
}
