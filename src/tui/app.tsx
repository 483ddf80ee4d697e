import path from 'node:path'
import {Box, useApp, useStdout} from 'ink'
import {ColourContext} from '../cli/colour-text.js'
import type React from 'react'
import {useCallback, useEffect, useMemo, useRef, useState} from 'react'
import {baseSideOf, compareGroup, type ComparedRequest} from '../diff/compare.js'
import {CauseTally} from '../diff/cause.js'
import {rollbackFrequency} from '../rollout/history.js'
import {decisionsByRef, heldInTrace} from '../runs/approvals.js'
import {requestGroup} from '../runs/group.js'
import {findRecordContexts, type RecordContext} from '../runs/request-record.js'
import {runSummary} from '../runs/run-summary.js'
import type {RunSummary} from '../runs/summary.js'
import {runTrafficFile} from '../runs/traffic-join.js'
import {scorecard, type Scorecard} from '../scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS, type Thresholds} from '../scorecard/thresholds.js'
import {decideApprovals} from '../shadow/approvals.js'
import type {RunInfo, TraceDatabase, TraceStore} from '../store/api.js'
import {writeFileAtomic} from '../util/atomic-write.js'
import type {RunAction} from './app-keys.js'
import {CausesScreen, type CausesPosition} from './causes-screen.js'
import {osc52} from './clipboard.js'
import {emptyCounts, type RequestEntry} from './entries.js'
import {heldRows} from './held-panel.js'
import {HelpScreen} from './help-screen.js'
import {TUI_KEY_TABLES} from './help-tables.js'
import {loadEntries, type LoadState} from './loader.js'
import {RequestScreen, type Decision} from './request-screen.js'
import {initialListState, RequestsScreen, type ListState} from './requests-screen.js'
import {VerdictCache} from './run-verdicts.js'
import {RunsScreen} from './runs-screen.js'
import {ScorecardScreen, type ScorecardState} from './scorecard-screen.js'
import {oneLine} from './text.js'
import {useShownRequests} from './use-shown-requests.js'
import {KeyRouter, Line, useTerminalSize, type Size} from './widgets.js'

export type TuiAppProps = {
  /** Lists runs, reads single requests and the decisions on held calls. */
  store: Pick<TraceDatabase, 'path' | 'listRuns' | 'iterateTraces' | 'listApprovals' | 'listBundleHistory'>
  /**
   * Opens a second connection for the list's streaming comparison (and for the summaries behind
   * the scorecard, the report and the runs list's verdicts): a store connection is busy while an
   * iterator is open, and opening a request must not wait for the list to finish loading.
   * The app closes what this returns.
   */
  openReader: () => TraceStore
  /** A writable connection, for recording approval decisions; closed after each decision. Absent: the TUI cannot decide. */
  openWriter?: () => TraceDatabase
  /** Who decides held calls (`--by`); the OS user when absent, as `approvals decide`. */
  by?: string
  /** The scorecard's thresholds (`--thresholds`), with the file they came from; the defaults when absent. */
  thresholds?: {file: string; thresholds: Thresholds}
  /** Where `w` writes the HTML report (default: the working directory). */
  reportDir?: string
  /** Sends text to the clipboard; by default the OSC 52 escape on the terminal's stdout. */
  copy?: (text: string) => void
  /** Start on this run (its causes) instead of the runs list. */
  initialRun?: RunInfo
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
  size?: Size
  /** Whether the screens may colour their text (src/cli/colour.ts); on unless told. */
  colour?: boolean
}

type Screen =
  | {name: 'runs'}
  | {name: 'causes'}
  | {name: 'requests'}
  | {name: 'request'; entry: RequestEntry}
  | {name: 'scorecard'; run: RunInfo; back: Exclude<Screen, {name: 'scorecard'}>}

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

export function TuiApp(props: TuiAppProps): React.JSX.Element {
  const {store, openReader, openWriter, by, reportDir, thresholds, initialRun, size, colour = true} = props
  const {exit} = useApp()
  const {stdout} = useStdout()
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
  const [help, setHelp] = useState(false)
  // One line at the bottom saying what an action did (copied, written, decided); the next key clears it.
  const [notice, setNotice] = useState<{text: string; tone: 'ok' | 'error' | 'busy'} | null>(null)
  const [card, setCard] = useState<ScorecardState>({state: 'loading'})
  const load = useRunLoad(run, openReader)
  const shown = useShownRequests(load, list)

  /**
   * The run's summary and scorecard (default thresholds): one pass over its traces, on a connection
   * of its own. The last one is kept, so `c` then `w` on one run read it once.
   */
  const lastSummary = useRef<{key: string; value: Promise<{summary: RunSummary; card: Scorecard}>} | null>(null)
  const summarise = useCallback(
    (r: RunInfo): Promise<{summary: RunSummary; card: Scorecard}> => {
      const key = VerdictCache.key(r)
      if (lastSummary.current?.key === key) return lastSummary.current.value
      const value = (async () => {
        const reader = openReader()
        try {
          const {summary, golden} = await runSummary(reader, r)
          return {summary, card: scorecard(summary, thresholds?.thresholds ?? DEFAULT_THRESHOLDS, golden, rollbackFrequency(store.listBundleHistory()))}
        } finally {
          reader.close()
        }
      })()
      lastSummary.current = {key, value}
      // A failure is not kept: the next ask tries again.
      value.catch(() => {
        if (lastSummary.current?.value === value) lastSummary.current = null
      })
      return value
    },
    [openReader, store, thresholds],
  )
  const verdicts = useMemo(
    () =>
      new VerdictCache(async (r) => {
        const {summary, card: c} = await summarise(r)
        return {colour: c.colour, regressions: summary.regressions.count}
      }),
    [summarise],
  )

  const loadRequest = useCallback(
    (entry: RequestEntry): ComparedRequest => {
      if (!run) throw new Error('no run open')
      const group = requestGroup(store, run, entry.request_id, entry.line)
      if (group !== undefined) return compareGroup(group, baseSideOf(run), {answerParts: true})
      throw new Error(`request ${entry.request_id} is no longer in run ${run.id}`)
    },
    [store, run],
  )

  const loadRecord = useCallback(
    async (entry: RequestEntry): Promise<RecordContext | null> => {
      const file = run ? runTrafficFile(run) : null
      if (file === null) return null
      return (await findRecordContexts(file, [entry.request_id])).get(entry.request_id) ?? null
    },
    [run],
  )

  const held = useCallback(
    (request: ComparedRequest) => {
      if (!run || !request.cand) return []
      const decided = decisionsByRef(store.listApprovals(run.id))
      return heldRows(heldInTrace(request.cand, decided), decided)
    },
    [store, run],
  )

  const decide = useCallback(
    (ref: string, decision: Decision, reason: string | null): void => {
      if (!run) throw new Error('no run open')
      if (!openWriter) throw new Error('this TUI was opened without a writable store: decide with `understudy approvals decide`')
      const writer = openWriter()
      try {
        const done = decideApprovals(writer, run, {...(decision === 'approve' ? {approve: [ref]} : {reject: [ref]}), by, reason: reason ?? undefined})
        const d = done.decided[0]!
        setNotice({text: `${d.decision} ${ref} (${d.tool}) by ${d.decided_by} · carry out: understudy approvals apply ${run.id}`, tone: 'ok'})
      } finally {
        writer.close()
      }
    },
    [run, openWriter, by],
  )

  const copy = (text: string): void => {
    if (props.copy) props.copy(text)
    else stdout.write(osc52(text))
    setNotice({text: `copied ${oneLine(text)} to the clipboard (OSC 52; a terminal without it ignores it)`, tone: 'ok'})
  }

  const runAction = (a: RunAction, r: RunInfo): void => {
    if (a === 'scorecard') {
      if (screen.name === 'scorecard') return
      setCard({state: 'loading'})
      setScreen({name: 'scorecard', run: r, back: screen})
      summarise(r).then(
        ({card: c}) => setCard({state: 'ready', card: c}),
        (e: Error) => setCard({state: 'failed', message: e.message}),
      )
      return
    }
    const file = path.resolve(reportDir ?? process.cwd(), `understudy-report-${r.id}.html`)
    setNotice({text: `writing the HTML report of run ${r.id}…`, tone: 'busy'})
    void (async () => {
      try {
        const {summary, card: c} = await summarise(r)
        // The HTML renderer is loaded only when asked for, as `understudy report` does.
        const text = (await import('../report/render.js')).renderReport('html', summary, c)
        writeFileAtomic(file, text)
        setNotice({text: `wrote ${file} (HTML report of run ${r.id}, ${Buffer.byteLength(text)} bytes)`, tone: 'ok'})
      } catch (e) {
        setNotice({text: `could not write the report: ${(e as Error).message}`, tone: 'error'})
      }
    })()
  }

  /** Opens the request `delta` rows away from `entry` in the list's order, moving the list's cursor with it. */
  const step = (entry: RequestEntry, delta: 1 | -1): void => {
    const at = shown.findIndex((i) => load.entries[i] === entry)
    const to = at + delta
    const next = at < 0 ? undefined : load.entries[shown[to] ?? -1]
    if (!next) {
      setNotice({text: delta > 0 ? 'the last request of the list' : 'the first request of the list', tone: 'ok'})
      return
    }
    setList((prev) => ({...prev, cursor: to}))
    setScreen({name: 'request', entry: next})
  }

  const quit = (): void => exit()
  const openHelp = (): void => setHelp(true)
  const bodyHeight = notice ? height - 1 : height

  let body: React.JSX.Element
  if (screen.name === 'scorecard') {
    body = (
      <ScorecardScreen
        runId={screen.run.id}
        card={card}
        thresholds={thresholds?.file ?? null}
        width={width}
        height={bodyHeight}
        onQuit={quit}
        onHelp={openHelp}
        onBack={() => setScreen(screen.back)}
        onRunAction={(a) => runAction(a, screen.run)}
      />
    )
  } else if (screen.name === 'runs' || !run) {
    body = (
      <RunsScreen
        runs={runs}
        dbPath={store.path}
        width={width}
        height={bodyHeight}
        verdicts={verdicts}
        onQuit={quit}
        onHelp={openHelp}
        onRunAction={runAction}
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
        height={bodyHeight}
        onQuit={quit}
        onHelp={openHelp}
        onRunAction={(a) => runAction(a, run)}
        onBack={() => setScreen({name: 'runs'})}
        onOpen={(g) => {
          const cause = g?.cause ?? null
          // Another cause starts at the top of its list; the same one keeps its place.
          if (cause !== list.cause) setList({...initialListState, order: list.order, cause})
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
        shown={shown}
        width={width}
        height={bodyHeight}
        onQuit={quit}
        onHelp={openHelp}
        onRunAction={(a) => runAction(a, run)}
        onCopy={copy}
        onBack={() => setScreen({name: 'causes'})}
        onOpen={(entry) => setScreen({name: 'request', entry})}
      />
    )
  } else {
    const entry = screen.entry
    const at = shown.findIndex((i) => load.entries[i] === entry)
    body = (
      <RequestScreen
        key={`${entry.request_id}\u0000${entry.line}`}
        entry={entry}
        load={loadRequest}
        loadRecord={loadRecord}
        held={held}
        decide={decide}
        runId={run.id}
        position={at < 0 ? 'not in the list' : `${at + 1}/${shown.length}`}
        width={width}
        height={bodyHeight}
        onQuit={quit}
        onHelp={openHelp}
        onStep={(delta) => step(entry, delta)}
        onRunAction={(a) => runAction(a, run)}
        onCopy={copy}
        onBack={() => setScreen({name: 'requests'})}
      />
    )
  }
  const helpFor = TUI_KEY_TABLES.find((t) => t.screen === screen.name)!
  return (
    <ColourContext.Provider value={colour}>
      <KeyRouter onKey={() => setNotice((n) => (n?.tone === 'busy' ? n : null))}>
        <Box width={width} height={height} flexDirection="column">
          {help ? <HelpScreen title={helpFor.title} tables={helpFor.tables} width={width} height={height} onClose={() => setHelp(false)} /> : null}
          {/* The screen stays mounted under the help, so its scroll position and prompt survive. */}
          <Box display={help ? 'none' : 'flex'} flexDirection="column" height={help ? 0 : height}>
            {body}
            {notice ? (
              <Line width={width} color={notice.tone === 'error' ? 'red' : notice.tone === 'busy' ? 'yellow' : 'green'}>
                {notice.text}
              </Line>
            ) : null}
          </Box>
        </Box>
      </KeyRouter>
    </ColourContext.Provider>
  )
}
