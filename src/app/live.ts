/**
 * The live daemon (`loopstream serve`, `npm start`): the ZeroMQ source through the pipeline, resumed
 * recordings first, and the dashboard server beside it. Runs until `close()`.
 */
import type { Config } from '../config/schema.ts';
import { startDashboardServer } from '../server/index.ts';
import { zmqSource, type ZmqSource } from '../sources/zmq.ts';
import { StatusChannel, statusEndpointFor } from '../sources/zmq-status.ts';
import { wireStatus, type StatusReporter } from './wire-status.ts';
import type { Logger } from '../util/log.ts';
import { Daemon } from '../pipeline/daemon.ts';
import { PipelineHub } from './hub.ts';
import { resumeRecordings, type ResumedScan } from './resume.ts';
import { wireAlerts } from './wire-alerts.ts';
import { metricsAlertSink, wireMetrics } from './wire-metrics.ts';
import { createDashboardMetrics } from '../server/metrics.ts';
import { wireFinetune } from './wire-finetune.ts';
import { facilityAlertSink, wireFacility, type FacilityWiring } from './wire-facility.ts';

export interface LiveDaemon {
  daemon: Daemon;
  hub: PipelineHub;
  source: ZmqSource;
  /** the ZeroMQ endpoint actually bound (port resolved) */
  endpoint: string;
  /** the status channel's PUB endpoint (port resolved); absent when ingest.statusEndpoint is '' */
  statusEndpoint?: string;
  /** publish on the status channel from elsewhere (e.g. a recording halt detected outside the registry) */
  status?: StatusReporter;
  /** dashboard URL, when the server is enabled */
  url?: string;
  /** the facility publisher, when facility.redis is set (docs/scale.md §Facility view) */
  facility?: FacilityWiring;
  resumed: ResumedScan[];
  /** settles when the live source ends (it only ends on close or on a socket error) */
  done: Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Start the live daemon. Whatever fails on the way (a bind, a bundle, a port) closes what was already opened and
 * rejects, so the caller can exit non-zero instead of leaving a half-started process behind.
 */
export async function startLive(config: Config, log: Logger): Promise<LiveDaemon> {
  const daemon = await Daemon.create(config, log, { source: 'live', record: true });
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => daemon.close()];
  let closing: Promise<void> | undefined;
  const cleanUp = () =>
    (closing ??= (async () => {
      for (const fn of [...cleanups].reverse()) await Promise.resolve().then(fn).catch(() => undefined);
    })());
  try {
    const source = zmqSource({ ...config.ingest, log: log.child({ stage: 'ingest' }), waitReady: () => daemon.waitForRoom() });
    // The status channel binds before any frame can arrive, so no refusal goes unpublished.
    const statusAt = statusEndpointFor(config.ingest);
    const channel = statusAt ? await StatusChannel.bind(statusAt, log.child({ stage: 'status' })) : undefined;
    if (channel) cleanups.push(() => channel.close());
    const status = channel ? wireStatus(daemon, source, channel) : undefined;
    if (status) cleanups.push(() => status.close());
    const hub = new PipelineHub(daemon, source.rejects);
    const metrics = createDashboardMetrics();
    // alert events reach the facility stream as one more sink (attached once the dashboard URL names the daemon)
    const facilitySink = facilityAlertSink();
    const alerts = await wireAlerts(daemon, hub, config, log.child({ stage: 'alerts' }), [metricsAlertSink(metrics), ...(config.facility.redis ? [facilitySink.sink] : [])]);
    cleanups.push(() => alerts.close());
    const offMetrics = wireMetrics(daemon, metrics, source.rejects$);
    cleanups.push(offMetrics);
    // Background fine-tuning (src/finetune), before resumed or live pixels flow: continues from the latest accepted version.
    const finetune = config.finetune.enabled ? await wireFinetune(daemon, hub, config, log.child({ stage: 'finetune' })) : undefined;
    if (finetune) cleanups.push(() => finetune.close());
    const resumed = await resumeRecordings(daemon, (start, nextSeq) => source.resume(start, nextSeq));
    const server = config.server.enabled ? await startDashboardServer({ config, hub, logger: log.child({ stage: 'server' }), metrics }) : undefined;
    if (server) cleanups.push(() => server.close());
    if (server) log.info({ url: server.url }, `dashboard at ${server.url}`);
    // The facility view (src/facility): scan events to a Redis Stream, never waited for by ingest.
    const facility = config.facility.redis
      ? wireFacility(hub, { config, log: log.child({ stage: 'facility' }), metrics, dashboardUrl: server?.url ?? '', port: server?.port ?? Number(/:(\d+)$/.exec(config.ingest.endpoint)?.[1] ?? 0) })
      : undefined;
    if (facility) {
      facilitySink.attach(facility);
      cleanups.push(() => facility.close());
    }
    const done = daemon.run(source.events$);
    done.catch(() => undefined); // the caller watches `done`; a bind failure also rejects `ready` below
    const endpoint = await source.ready;
    return {
      daemon,
      hub,
      source,
      endpoint,
      statusEndpoint: channel?.endpoint,
      status,
      url: server?.url,
      facility,
      resumed,
      done,
      close: cleanUp,
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
