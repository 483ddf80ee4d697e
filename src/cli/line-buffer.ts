/**
 * Collects output lines and writes them to stdout in large pieces: a listing of 100k requests
 * written line by line spends more time in write calls than in producing the lines.
 */
export class LineBuffer {
  private text = ''

  constructor(private readonly enabled: boolean) {}

  line(line: string): void {
    if (!this.enabled) return
    this.text += line + '\n'
    if (this.text.length >= 64 * 1024) this.flush()
  }

  flush(): void {
    if (this.text.length > 0) process.stdout.write(this.text)
    this.text = ''
  }
}
