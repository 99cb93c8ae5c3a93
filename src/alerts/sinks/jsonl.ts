/** JSON-lines sink: each alert event is appended to a file as one line of JSON (the form ZeroMQ publishes). */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../util/log.ts';
import { silentLogger } from '../../util/log.ts';
import { alertEventToJson, type AlertDelivery, type AlertSink } from '../types.ts';

export class JsonlSink implements AlertSink {
  readonly name = 'jsonl';
  private readonly stream: WriteStream;
  /** write errors so far (the file is then left alone; the pipeline goes on) */
  failures = 0;

  /** Open `path` for appending (its folder is created). */
  constructor(
    readonly path: string,
    log: Logger = silentLogger,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => {
      this.failures++;
      log.warn({ sink: this.name, path, err }, `cannot append alerts to ${path}`);
    });
  }

  /** Append one line; the stream buffers, so this never waits on the disk. */
  deliver({ event }: AlertDelivery): void {
    if (this.stream.destroyed || this.stream.writableEnded) throw new Error(`alerts JSONL ${this.path} is closed; event for alert ${event.alert.id} not written`);
    this.stream.write(`${JSON.stringify(alertEventToJson(event))}\n`);
  }

  /** Flush and close the file. */
  async close(): Promise<void> {
    if (this.stream.writableEnded) return;
    await new Promise<void>((resolve) => {
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
  }
}
