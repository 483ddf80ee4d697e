/**
 * Copying to the clipboard of the terminal the user sits at, over any SSH hop: the OSC 52 escape
 * (`ESC ] 52 ; c ; <base64> BEL`), which xterm, iTerm2, kitty, WezTerm, Windows Terminal, foot and
 * tmux (with `set-clipboard on`) understand. A terminal without it ignores the sequence, so sending
 * it is harmless; the TUI says what it copied either way, for the user to see.
 */
export function osc52(text: string): string {
  return `\u001b]52;c;${Buffer.from(text, 'utf8').toString('base64')}\u0007`
}
