/** Build the sinks the `alerts.sinks` config asks for. */
import type { Logger } from '../../util/log.ts';
import { silentLogger } from '../../util/log.ts';
import type { AlertSink, AlertsConfig } from '../types.ts';
import { DashboardSink } from './dashboard.ts';
import { JsonlSink } from './jsonl.ts';
import { WebhookSink } from './webhook.ts';
import { ZmqPubSink } from './zmq-pub.ts';

/** The configured sinks; `dashboard` is the one the server listens to (undefined when off). */
export interface AlertSinks {
  all: AlertSink[];
  dashboard?: DashboardSink;
  zmq?: ZmqPubSink;
  jsonl?: JsonlSink;
  webhook?: WebhookSink;
}

/**
 * Create every sink switched on in `config.sinks` (the ZeroMQ one binds its socket). The sinks live as long
 * as the daemon: one set serves every scan's AlertEngine; close them with `closeAlertSinks`.
 */
export async function createAlertSinks(sinks: AlertsConfig['sinks'], log: Logger = silentLogger): Promise<AlertSinks> {
  const out: AlertSinks = { all: [] };
  if (sinks.dashboard) out.all.push((out.dashboard = new DashboardSink()));
  if (sinks.zmq.endpoint) out.all.push((out.zmq = await ZmqPubSink.create({ endpoint: sinks.zmq.endpoint, topic: sinks.zmq.topic, log })));
  if (sinks.jsonl.path) out.all.push((out.jsonl = new JsonlSink(sinks.jsonl.path, log)));
  if (sinks.webhook.url) out.all.push((out.webhook = new WebhookSink({ ...sinks.webhook, log })));
  return out;
}

/** Close every sink, waiting up to timeoutMs each for queued events. */
export async function closeAlertSinks(sinks: AlertSinks, timeoutMs = 1000): Promise<void> {
  await Promise.all(sinks.all.map((s) => s.close?.({ timeoutMs }).catch(() => undefined)));
}
