/** The terminal's alternate screen: the TUI leaves the scrollback as it found it. */
const ENTER_ALT = '\u001b[?1049h'
const LEAVE_ALT = '\u001b[?1049l'

/** Runs `fn` on the alternate screen and leaves it afterwards, whether `fn` succeeded or failed. */
export async function onAlternateScreen<T>(fn: () => Promise<T>, stream: NodeJS.WriteStream = process.stdout): Promise<T> {
  stream.write(ENTER_ALT)
  try {
    return await fn()
  } finally {
    stream.write(LEAVE_ALT)
  }
}
