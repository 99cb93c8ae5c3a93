/** Errors of the dashboard server (a bad bind configuration is a ConfigError, src/server/access.ts). */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of server error codes; all but LISTEN, TOKEN and ORIGIN travel in `Reply` answers. */
export const SERVER_ERROR_CODES = ['LS_SERVER_LISTEN', 'LS_SERVER_TOKEN', 'LS_SERVER_ORIGIN', 'LS_SERVER_SCAN', 'LS_SERVER_PIXEL', 'LS_SERVER_TRAVERSE', 'LS_SERVER_REPLAY', 'LS_SERVER_BUSY', 'LS_SERVER_NO_DAEMON'] as const;
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/** The dashboard server could not start or serve a request; the message names the address or request. */
export class ServerError extends CodedError<ServerErrorCode> {
  override readonly name = 'ServerError';
}
