/** One measured figure of `npm run bench` and how it is judged. */
export type Target = {op: '>=' | '<' | '<='; value: number}

export type Figure = {
  name: string
  value: number
  unit: string
  target: Target
  /** Sizes and side figures, shown after the verdict. */
  detail: string
}

export function passes(f: Figure): boolean {
  switch (f.target.op) {
    case '>=':
      return f.value >= f.target.value
    case '<=':
      return f.value <= f.target.value
    case '<':
      return f.value < f.target.value
  }
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US')
  if (Math.abs(n) >= 10) return n.toFixed(1)
  if (Math.abs(n) < 1) return n.toFixed(3)
  return n.toFixed(2)
}

/** `name  value unit  target  PASS|FAIL  (detail)`, columns aligned. */
export function figureLine(f: Figure): string {
  const value = `${formatNumber(f.value)} ${f.unit}`
  const target = `${f.target.op} ${formatNumber(f.target.value)} ${f.unit}`
  return `${f.name.padEnd(22)} ${value.padStart(18)}   target ${target.padEnd(18)} ${passes(f) ? 'PASS' : 'FAIL'}${f.detail ? `  (${f.detail})` : ''}`
}
