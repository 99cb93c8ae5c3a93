/**
 * The live daemon (`loopstream serve`, `npm start`): the ZeroMQ source through the pipeline, resumed
 * recordings first, and the dashboard server beside it. Runs until `close()`.
 */
import type { Config } from '../config/schema.ts';
import { startDashboardServer } from '../server/index.ts';
import { zmqSource, type ZmqSource } from '../sources/zmq.ts';
import type { Logger } from '../util/log.ts';
import { Daemon } from './daemon.ts';
import { PipelineHub } from './hub.ts';
import { resumeRecordings, type ResumedScan } from './resume.ts';
import { wireAlerts } from './wire-alerts.ts';
import { metricsAlertSink, wireMetrics } from './wire-metrics.ts';
import { createDashboardMetrics } from '../server/metrics.ts';
import { wireFinetune } from '../finetune/wire-finetune.ts';

export interface LiveDaemon {
  daemon: Daemon;
  hub: PipelineHub;
  source: ZmqSource;
  /** the ZeroMQ endpoint actually bound (port resolved) */
  endpoint: string;
  /** dashboard URL, when the server is enabled */
  url?: string;
  resumed: ResumedScan[];
  /** settles when the live source ends (it only ends on close or on a socket error) */
  done: Promise<unknown>;
  close(): Promise<void>;
}

/** Start the live daemon. */
export async function startLive(config: Config, log: Logger): Promise<LiveDaemon> {
  const daemon = await Daemon.create(config, log, { source: 'live', record: true });
  const source = zmqSource({ ...config.ingest, log: log.child({ stage: 'ingest' }), waitReady: () => daemon.waitForRoom() });
  const hub = new PipelineHub(daemon, source.rejects);
  const metrics = createDashboardMetrics();
  const alerts = await wireAlerts(daemon, hub, config, log.child({ stage: 'alerts' }), [metricsAlertSink(metrics)]);
  const offMetrics = wireMetrics(daemon, metrics, source.rejects$);
  // Background fine-tuning (src/finetune), before resumed or live pixels flow: continues from the latest accepted version.
  const finetune = config.finetune.enabled ? await wireFinetune(daemon, hub, config, log.child({ stage: 'finetune' })) : undefined;
  const resumed = await resumeRecordings(daemon, (start, nextSeq) => source.resume(start, nextSeq));
  const server = config.server.enabled ? await startDashboardServer({ config, hub, logger: log.child({ stage: 'server' }), metrics }) : undefined;
  if (server) log.info({ url: server.url }, `dashboard at ${server.url}`);
  const done = daemon.run(source.events$);
  done.catch((err) => log.error({ err: (err as Error).message }, 'live source failed'));
  const endpoint = await source.ready;
  return {
    daemon,
    hub,
    source,
    endpoint,
    url: server?.url,
    resumed,
    done,
    async close() {
      await server?.close();
      await finetune?.close();
      await alerts.close();
      offMetrics();
      await daemon.close();
    },
  };
}
