import {describe, expect, it} from 'vitest'
import {figureLine, passes, type Figure} from '../../bench/figure.js'

const figure = (value: number, op: Figure['target']['op'], target: number): Figure => ({name: 'cpu', value, unit: 'ms', target: {op, value: target}, detail: ''})

describe('bench figures', () => {
  it('judges each target operator at and around its bound', () => {
    expect([0.099, 0.1, 0.101].map((v) => passes(figure(v, '<=', 0.1)))).toEqual([true, true, false])
    expect([0.099, 0.1, 0.101].map((v) => passes(figure(v, '<', 0.1)))).toEqual([true, false, false])
    expect([0.99, 1, 1.01].map((v) => passes(figure(v, '>=', 1)))).toEqual([false, true, true])
  })

  // With two decimals a failing 0.101 ms read "0.10 ms … target <= 0.10 ms FAIL".
  it('shows a value below 1 to three decimals, so a failing figure never reads as its target', () => {
    const line = figureLine(figure(0.101, '<=', 0.1))
    expect(line).toMatch(/0\.101 ms\s+target <= 0\.100 ms\s+FAIL/)
  })
})
