/**
 * Render config/default.yaml from the schema: every key with its default and its description as a comment.
 * Generated output; `npm run config:render` rewrites the file and test/config/render.test.ts checks for drift.
 */
import YAML from 'yaml';
import { z } from 'zod';
import { Config, DEFAULTS } from './schema.ts';

/** The object schema inside default/prefault/optional wrappers, if any. */
function objectShape(schema: z.ZodType): z.ZodRawShape | undefined {
  let s: z.ZodType = schema;
  for (let i = 0; i < 5; i++) {
    if (s instanceof z.ZodObject) return s.shape;
    const inner = (s as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def.innerType;
    if (!inner) return undefined;
    s = inner;
  }
  return undefined;
}

function renderSection(shape: z.ZodRawShape, values: Record<string, unknown>, indent: string, lines: string[]): void {
  for (const [key, schema] of Object.entries(shape)) {
    const zs = schema as z.ZodType;
    const inner = objectShape(zs);
    if (zs.description) lines.push(`${indent}# ${zs.description}`);
    if (inner) {
      lines.push(`${indent}${key}:`);
      renderSection(inner, values[key] as Record<string, unknown>, `${indent}  `, lines);
    } else {
      lines.push(`${indent}${key}: ${YAML.stringify(values[key], { collectionStyle: 'flow' }).trim()}`);
    }
  }
}

/** The text of config/default.yaml. */
export function renderDefaultYaml(): string {
  const lines = [
    '# loopstream configuration: every key, its default and what it does.',
    '# Generated from src/config/schema.ts by `npm run config:render`; do not edit by hand.',
    '# Copy the keys you want to change into your own file and pass it with --config FILE.',
    '',
  ];
  renderSection(Config.shape, DEFAULTS as unknown as Record<string, unknown>, '', lines);
  return `${lines.join('\n')}\n`;
}

if (process.argv[1]?.endsWith('render.ts')) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(new URL('../../config/default.yaml', import.meta.url), renderDefaultYaml());
}
