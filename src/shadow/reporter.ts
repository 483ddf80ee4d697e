import type {Instance} from 'ink'
import {colourWanted} from '../cli/colour.js'
import {terminalText} from '../util/terminal-text.js'
import {progressLine, type ShadowProgress} from './progress.js'

/**
 * Ink, React and the view load only when a terminal will show them: they cost about 40 MB and half
 * a second at start-up, which a piped or --json run (and a million-request replay) should not pay.
 */
const loadInk = async () => {
  const [ink, react, view] = await Promise.all([import('ink'), import('react'), import('./progress-view.js')])
  return {render: ink.render, createElement: react.default.createElement, ProgressView: view.ProgressView}
}
type InkModules = Awaited<ReturnType<typeof loadInk>>

/**
 * Shows a run's progress: an Ink view on a TTY, a plain line every few seconds when piped, nothing
 * for --json (whose result lists the skipped lines instead).
 */
export interface ProgressReporter {
  start(runId: string, candidate: string, baseline: string): void
  update(progress: ShadowProgress): void
  /** A skipped traffic line: its problems, one `file:LINE: field: message` each, as `traffic validate` prints them. */
  skipped(problems: string[]): void
  stopping(): void
  finish(): void
}

export function createReporter(mode: 'tty' | 'plain' | 'silent', stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (mode === 'silent') return {start() {}, update() {}, skipped() {}, stopping() {}, finish() {}}
  const reporter = mode === 'tty' ? new InkReporter(stream) : new PlainReporter(stream)
  // Bundle refs hold a bundle's free-text version: shown escaped, like any data (src/util/terminal-text.ts).
  const start = reporter.start.bind(reporter)
  reporter.start = (runId, candidate, baseline) => start(terminalText(runId), terminalText(candidate), terminalText(baseline))
  // A skipped line's problems quote the line's own text.
  const skipped = reporter.skipped.bind(reporter)
  reporter.skipped = (problems) => skipped(problems.map((p) => terminalText(p)))
  return reporter
}

const PLAIN_EVERY_MS = 2000
const TTY_EVERY_MS = 100

class PlainReporter implements ProgressReporter {
  private last = 0
  private progress: ShadowProgress | null = null
  constructor(private readonly stream: NodeJS.WriteStream) {}
  start(runId: string, candidate: string, baseline: string): void {
    this.stream.write(`shadow run ${runId}: ${candidate} vs ${baseline}\n`)
  }
  update(progress: ShadowProgress): void {
    this.progress = progress
    const now = Date.now()
    if (now - this.last < PLAIN_EVERY_MS) return
    this.last = now
    this.stream.write(progressLine(progress, now) + '\n')
  }
  skipped(problems: string[]): void {
    for (const p of problems) this.stream.write(p + '\n')
  }
  stopping(): void {
    this.stream.write('stopping: finishing the requests in flight (Ctrl-C again to quit now)\n')
  }
  finish(): void {
    if (this.progress) this.stream.write(progressLine(this.progress) + '\n')
  }
}

/** Skipped lines a TTY view holds until it is gone (lines written under a live Ink view garble it). */
const TTY_SKIPPED_HELD = 1000

class InkReporter implements ProgressReporter {
  private instance: Instance | null = null
  private held: string[] = []
  private notHeld = 0
  private props: {runId: string; candidate: string; baseline: string; stopping: boolean} | null = null
  private progress: ShadowProgress | null = null
  private timer: NodeJS.Timeout | null = null
  constructor(private readonly stream: NodeJS.WriteStream) {}

  private ink: InkModules | null = null

  start(runId: string, candidate: string, baseline: string): void {
    this.props = {runId, candidate, baseline, stopping: false}
    void loadInk().then((m) => {
      this.ink = m
      this.draw()
    })
    // The view redraws on a timer, not per request: thousands of requests a second must not mean thousands of renders.
    this.timer = setInterval(() => this.draw(), TTY_EVERY_MS)
    this.timer.unref()
  }
  update(progress: ShadowProgress): void {
    this.progress = progress
  }
  skipped(problems: string[]): void {
    for (const p of problems) {
      if (this.held.length < TTY_SKIPPED_HELD) this.held.push(p)
      else this.notHeld++
    }
  }
  stopping(): void {
    if (this.props) this.props.stopping = true
    this.draw()
  }
  finish(): void {
    if (this.timer) clearInterval(this.timer)
    this.draw()
    this.instance?.unmount()
    this.instance = null
    for (const p of this.held) this.stream.write(p + '\n')
    if (this.notHeld > 0) this.stream.write(`…and ${this.notHeld} more problems of skipped lines (\`understudy traffic validate\` lists every one)\n`)
    this.held = []
  }
  private draw(): void {
    if (!this.props || !this.progress || !this.ink) return
    const {render, createElement, ProgressView} = this.ink
    const element = createElement(ProgressView, {...this.props, progress: this.progress, nowMs: Date.now(), colour: colourWanted(this.stream)})
    if (this.instance) this.instance.rerender(element)
    else this.instance = render(element, {stdout: this.stream, patchConsole: false, exitOnCtrlC: false})
  }
}
