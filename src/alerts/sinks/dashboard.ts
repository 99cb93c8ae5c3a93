/** The dashboard sink: an in-process EventEmitter the server subscribes to and forwards over Socket.IO. */
import { EventEmitter } from 'node:events';
import type { AlertDelivery, AlertEvent, AlertSink } from '../types.ts';

/** Events of the dashboard sink: one `alert` per alert event. */
export interface DashboardSinkEvents {
  alert: [event: AlertEvent];
}

/**
 * Emits `alert` synchronously for each event (`sink.on('alert', (e) => io.emit('alert:raised', …))`).
 * A listener that throws is reported by the engine as a sink failure; the other sinks still get the event.
 */
export class DashboardSink extends EventEmitter<DashboardSinkEvents> implements AlertSink {
  readonly name = 'dashboard';

  /** Hand the event to the listeners. */
  deliver({ event }: AlertDelivery): void {
    this.emit('alert', event);
  }

  /** Drop every listener. */
  async close(): Promise<void> {
    this.removeAllListeners();
  }
}
