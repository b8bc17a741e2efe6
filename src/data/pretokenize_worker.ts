/**
 * Deno Worker behind {@link pretokenize}: receives a {@link WorkerRequest} per shard, tokenizes
 * it with {@link pretokenizeShard} (loading the tokenizer once per model path), and answers with
 * progress messages, then `done` or `error` ({@link WorkerReply}).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  pretokenizeShard,
  type ShardStats,
  type WorkerReply,
  type WorkerRequest,
} from "./pretokenize.ts";
import { Tokenizer } from "./tokenizer.ts";

const _tokenizers = new Map<string, Promise<Tokenizer>>();

function _post(m: WorkerReply): void {
  self.postMessage(m);
}

self.onmessage = async (ev: MessageEvent<WorkerRequest>) => {
  const { jsonPath, binPath, tokenizerPath } = ev.data;
  try {
    let tok = _tokenizers.get(tokenizerPath);
    if (!tok) {
      tok = Tokenizer.load(tokenizerPath);
      _tokenizers.set(tokenizerPath, tok);
    }
    const stats = await pretokenizeShard(
      jsonPath,
      binPath,
      await tok,
      (s: ShardStats) => _post({ type: "progress", stats: s }),
    );
    _post({ type: "done", stats });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    _post({ type: "error", error: { name: err.name, message: err.message.split("\n")[0] } });
  }
};
