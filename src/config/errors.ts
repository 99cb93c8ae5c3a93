/** A configuration file or flag that cannot be used; the message names the key path, the value and what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'LS_CONFIG_INVALID';
  constructor(
    message: string,
    readonly source: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}
