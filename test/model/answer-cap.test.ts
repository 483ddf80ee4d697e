import {describe, expect, it} from 'vitest'
import {answerBytes, capAnswers} from '../../src/model/answer-cap.js'
import type {ChatResponse, ModelClient, ModelToolCall} from '../../src/model/types.js'

const answering = (content: string, tool_calls: ModelToolCall[] = []): ModelClient => ({
  id: 'fixed',
  chat: async (): Promise<ChatResponse> => ({message: {role: 'assistant', content, tool_calls}, input_tokens: 1, output_tokens: 1, latency_ms: 0, done_reason: 'stop'}),
})
const ask = (model: ModelClient) => model.chat({model: 'm', messages: [{role: 'user', content: 'hi'}], tools: [], options: {temperature: 0, seed: 1, num_predict: 10}})

describe('the answer-size cap', () => {
  it('counts UTF-8 bytes exactly at the limit, whether or not the quick bound already settles it', async () => {
    const calls = [{name: 't', arguments: {q: 'é'}}]
    for (const [content, toolCalls] of [['ab€', []], ['x'.repeat(30), []], ['€€€€', calls], ['', calls]] as [string, ModelToolCall[]][]) {
      const size = answerBytes((await ask(answering(content, toolCalls))) as ChatResponse)
      // At the exact size it passes; one byte under, it fails with the size in the message.
      await expect(ask(capAnswers(answering(content, toolCalls), size))).resolves.toMatchObject({message: {content}})
      await expect(ask(capAnswers(answering(content, toolCalls), size - 1))).rejects.toThrow(`is ${size} bytes, over model.max_answer_bytes (${size - 1})`)
      // Far above: passes on the bound alone.
      await expect(ask(capAnswers(answering(content, toolCalls), 3 * size + 100))).resolves.toMatchObject({message: {content}})
    }
  })
})
