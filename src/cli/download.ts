/**
 * `download`: stream the TinyStories tarball into `DATA_DIR/TinyStories_all_data/`.
 *
 * @module
 */
import { type Command, UsageError } from "./args.ts";
import {
  checkHttpUrl,
  downloadTinyStories,
  formatDownloadProgress,
  TINYSTORIES_URL,
} from "../data/download.ts";

/** The `download` subcommand. */
export const downloadCommand: Command = {
  name: "download",
  summary: "stream TinyStories (.tar.gz) into DATA_DIR/TinyStories_all_data, resuming drops",
  usage: "[--url URL] [--data-dir data] [--retries 5]",
  flags: {
    url: {
      type: "string",
      help: `tarball URL (default: $BABYLLAMA_TINYSTORIES_URL, else ${TINYSTORIES_URL})`,
    },
    "data-dir": { type: "string", default: "data", help: "data directory" },
    retries: {
      type: "number",
      default: 5,
      help: "failed connections tolerated in a row, and restarts, before giving up",
    },
  },
  async run(values) {
    const env = Deno.env.get("BABYLLAMA_TINYSTORIES_URL");
    const url = (values.url as string | undefined) ?? env ?? TINYSTORIES_URL;
    try {
      checkHttpUrl(url);
    } catch {
      const from = values.url !== undefined ? "--url" : "$BABYLLAMA_TINYSTORIES_URL";
      throw new UsageError(
        `${from} must be an http:// or https:// URL, got ${JSON.stringify(url)}`,
      );
    }
    const tty = Deno.stderr.isTerminal();
    const enc = new TextEncoder();
    let last = 0;
    const clear = () => tty && Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    const r = await downloadTinyStories({
      url,
      dataDir: values["data-dir"] as string,
      retries: values.retries as number,
      onProgress: tty
        ? (p) => {
          const now = performance.now();
          if (now - last < 250) return;
          last = now;
          Deno.stderr.writeSync(enc.encode(`\r\x1b[K${formatDownloadProgress(p)}`));
        }
        : undefined,
      onRetry: (m) => {
        clear();
        console.error(`note: ${m}`);
      },
    }).finally(clear);
    console.log(
      `${r.written.length} files written, ${r.skipped.length} already complete, in ${r.dir} ` +
        `(${(r.bytes / 1e6).toFixed(1)} MB downloaded)`,
    );
  },
};
