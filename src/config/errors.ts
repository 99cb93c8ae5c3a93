import { CodedError } from '../util/coded-error.ts';

/** A configuration file or flag that cannot be used; the message names the key path, the value and what is expected. */
export class ConfigError extends CodedError<'LS_CONFIG_INVALID'> {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly source: string,
    readonly problems: string[] = [],
  ) {
    super('LS_CONFIG_INVALID', message);
  }
}
