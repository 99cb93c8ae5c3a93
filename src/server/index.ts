/** The dashboard server: start it with a DashboardHub; the pipeline updates the exported metrics. */
export { startDashboardServer, type DashboardServer, type DashboardServerOptions } from './start-dashboard-server.ts';
export { createDashboardMetrics, type DashboardMetrics } from './metrics.ts';
export { FINETUNE_STATES } from '../contracts/finetune-state.ts';
export { checkBind, isLoopback } from './access.ts';
export { ServerError, SERVER_ERROR_CODES, type ServerErrorCode } from './errors.ts';
export type * from './hub.ts';
export type * from './events.ts';
