/**
 * Collects output lines and hands them to `write` in large pieces: a listing of 100k requests
 * written line by line spends more time in write calls than in producing the lines. `write` is a
 * command's own (BaseCommand.write), so the listing gets the same terminal-safe output as any line.
 */
export class LineBuffer {
  private text = ''

  constructor(private readonly write: ((text: string) => void) | null) {}

  line(line: string): void {
    if (this.write === null) return
    this.text += line + '\n'
    if (this.text.length >= 64 * 1024) this.flush()
  }

  flush(): void {
    if (this.text.length > 0 && this.write !== null) this.write(this.text)
    this.text = ''
  }
}
