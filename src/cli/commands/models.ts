/** `loopstream models [BUNDLE_DIR]`: list the model versions of a bundle — the pretrained one and every accepted fine-tuned version. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BUNDLE_FILES } from '../../model/bundle.ts';
import { listVersions, versionsRoot, type FinetunedManifest } from '../../finetune/versions.ts';
import { configFromOptions, withConfigOptions } from '../common.ts';

/** One listed version (the `--json` output is an array of these). */
export interface ModelVersionRow {
  version: number;
  parent: number | null;
  dir: string;
  created: string;
  /** scan ids and seq ranges a fine-tuned version was trained on; the training data description for a pretrained one */
  data: string;
  samples: number;
  /** held-out MSE of parent → this version at the gate (fine-tuned), or the validation MSE (pretrained) */
  heldOutMse: { parent: number | null; model: number | null };
  /** reference-slice MSE of parent → this version (fine-tuned only) */
  referenceMse: { parent: number | null; model: number | null } | null;
  epochs: number;
  trainSeconds: number;
}

function rowOf(dir: string, m: FinetunedManifest): ModelVersionRow {
  const ft = m.finetune;
  return {
    version: m.version,
    parent: m.parent,
    dir,
    created: m.created,
    data: ft ? ft.dataRange.map((r) => `${r.scanId} seq ${r.fromSeq ?? '?'}–${r.toSeq ?? '?'} (${r.pixels} px)`).join(', ') : m.data?.description ?? '',
    samples: m.data?.samples ?? 0,
    heldOutMse: ft ? { parent: ft.gate.incumbent.heldOutMse, model: ft.gate.candidate.heldOutMse } : { parent: null, model: m.metrics?.valMse ?? null },
    referenceMse: ft ? { parent: ft.gate.incumbent.referenceMse, model: ft.gate.candidate.referenceMse } : null,
    epochs: m.metrics?.epochs ?? 0,
    trainSeconds: ft ? ft.trainSeconds : m.metrics?.seconds ?? 0,
  };
}

async function readManifest(dir: string): Promise<FinetunedManifest> {
  return JSON.parse(await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8')) as FinetunedManifest;
}

/** Rows for a bundle folder (itself + its fine-tuned versions under `root`) or for a versions folder. */
export async function listModelVersions(dir: string, rootForBundle: string): Promise<ModelVersionRow[]> {
  const abs = resolve(dir);
  const isBundle = existsSync(join(abs, BUNDLE_FILES.manifest));
  const versions = await listVersions(isBundle ? rootForBundle : abs);
  const base = isBundle ? abs : versions[0]?.manifest.finetune?.base;
  const rows: ModelVersionRow[] = [];
  if (base && existsSync(join(base, BUNDLE_FILES.manifest))) rows.push(rowOf(base, await readManifest(base)));
  for (const v of versions) if (!base || v.manifest.finetune?.base === base) rows.push(rowOf(v.dir, v.manifest));
  return rows;
}

const f4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toPrecision(4));

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('models')
      .description('list model versions: the pretrained bundle and its accepted fine-tuned versions, with parent, data range and metrics')
      .argument('[bundle_dir]', 'a bundle folder (its versions are looked up under finetune.dir) or a versions folder holding v<N>/ (default: the configured model.bundle)')
      .option('--json', 'print the list as one JSON array')
      .option('--reference', "compute the bundle's training reference (input statistics, error distribution) from its training data and store it in manifest.json"),
  ).action(async (dir: string | undefined, opts) => {
    const config = configFromOptions(opts, dir && existsSync(join(resolve(dir), BUNDLE_FILES.manifest)) ? { 'model.bundle': dir } : {});
    if (opts.reference) {
      const { addTrainingReference } = await import('../../model/training-reference.ts');
      const { loggerFor } = await import('../common.ts');
      const target = dir ?? config.model.bundle;
      const ref = await addTrainingReference(target, loggerFor(config));
      process.stdout.write(`${target}: training reference from ${ref.pixels} pixels: median error ${ref.error.median.toPrecision(4)}, input mean [${ref.input.mean.map((m) => m.toPrecision(3)).join(', ')}], std [${ref.input.std.map((m) => m.toPrecision(3)).join(', ')}]\n`);
      return;
    }
    const rows = await listModelVersions(dir ?? config.model.bundle, versionsRoot(config));
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(`no model versions in ${resolve(dir ?? config.model.bundle)}\n`);
      return;
    }
    const table = rows.map((r) => ({
      version: `v${r.version}`,
      parent: r.parent === null ? '–' : `v${r.parent}`,
      created: r.created.replace('T', ' ').slice(0, 19),
      'held-out MSE': r.referenceMse ? `${f4(r.heldOutMse.parent)} → ${f4(r.heldOutMse.model)}` : f4(r.heldOutMse.model),
      'reference MSE': r.referenceMse ? `${f4(r.referenceMse.parent)} → ${f4(r.referenceMse.model)}` : '–',
      epochs: String(r.epochs),
      'train s': r.trainSeconds.toFixed(1),
      data: r.data,
    }));
    const cols = Object.keys(table[0]!) as Array<keyof (typeof table)[number]>;
    const width = cols.map((c) => Math.max(c.length, ...table.map((t) => t[c].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]!))).join('  ');
    process.stdout.write(`${line(cols)}\n${table.map((t) => line(cols.map((c) => t[c]))).join('\n')}\n`);
  });
}
