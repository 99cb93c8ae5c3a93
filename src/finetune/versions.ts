/**
 * The version store: every accepted fine-tuned model is a complete bundle folder `v<N>/` under one root per
 * pretrained bundle (`finetune.dir`, default `<data.dir>/models/<bundle folder name>`). Its manifest.json says
 * version N, parent N−1 (the model it was trained from), and, under `finetune`, the data it saw (scan ids and
 * seq ranges), the gate's numbers and the round's timing. Rejected rounds are appended to `rounds.jsonl` only.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { BUNDLE_FILES, type BundleManifest } from '../model/bundle.ts';
import { FinetuneError } from './errors.ts';
import type { GateDecision, GateRule, GateScores } from './gate.ts';
import type { DataRange } from './replay-buffer.ts';

/** What a fine-tuning round records (in the manifest of an accepted version, and in rounds.jsonl). */
/** What starts a fine-tuning round (docs/finetune.md §Triggers). */
export type RoundTrigger = 'pixels' | 'time' | 'ood' | 'end';

export interface RoundRecord {
  round: number;
  /** what started the round: `everyPixels` new pixels, or `everyMinutes` passed */
  /** what started the round: everyPixels new pixels, the timer, a scan flagged as not fitting (at minPixels), or the end of a replay */
  trigger: RoundTrigger;
  /** absolute path of the pretrained bundle this lineage started from */
  base: string;
  /** version the candidate was trained from */
  parent: number;
  /** version it got (accepted) or would have got (rejected) */
  version: number;
  accepted: boolean;
  finished: string;
  dataRange: DataRange[];
  recentTrainPixels: number;
  heldOutPixels: number;
  referenceTrainPixels: number;
  referenceHeldOutPixels: number;
  epochs: number;
  /** β the candidate ended with (fixed rounds: the round's β) */
  beta: number;
  /** constrained rounds: ρ, the recent pixels' PCA-5, κ, β at start and end (round-beta.ts) */
  constraint?: import('./round-beta.ts').RoundConstraint;
  learningRate: number;
  /** training loss/MSE/KL of the last epoch */
  last: { loss: number; mse: number; kl: number } | null;
  gate: { incumbent: GateScores; candidate: GateScores; rule: GateRule; decision: GateDecision };
  /** wall time of the whole round (train + gate + swap + re-encode), s */
  seconds: number;
  trainSeconds: number;
  busySeconds: number;
  throttledSeconds: number;
  pausedSeconds: number;
  backend: string;
  /** pixels re-encoded after the swap (accepted only) */
  reencoded?: number;
}

/** manifest.json of a fine-tuned version. */
export type FinetunedManifest = BundleManifest & { finetune?: RoundRecord };

/** One version on disk. */
export interface VersionEntry {
  version: number;
  parent: number | null;
  dir: string;
  manifest: FinetunedManifest;
}

/** Root folder of the versions of the configured bundle. */
export function versionsRoot(config: Config): string {
  const c = config.finetune;
  return resolve(c.dir || join(config.data.dir, 'models', basename(resolve(config.model.bundle))));
}

/** Every `v<N>/` folder under `root` with a readable manifest, by version. */
export async function listVersions(root: string): Promise<VersionEntry[]> {
  if (!existsSync(root)) return [];
  const out: VersionEntry[] = [];
  for (const name of await readdir(root)) {
    if (!/^v[0-9]+$/.test(name)) continue;
    const dir = join(root, name);
    let manifest: FinetunedManifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8')) as FinetunedManifest;
    } catch {
      continue; // a folder being written or damaged: not a usable version
    }
    if (manifest.version !== Number(name.slice(1))) {
      throw new FinetuneError('LS_FINETUNE_VERSIONS', `${dir}: manifest.json says version ${manifest.version}, the folder name says ${name.slice(1)}; rename the folder or fix the manifest`);
    }
    out.push({ version: manifest.version, parent: manifest.parent, dir, manifest });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** The latest accepted version that descends from `baseDir`; undefined when there is none. */
export async function latestVersion(root: string, baseDir: string): Promise<VersionEntry | undefined> {
  const base = resolve(baseDir);
  const mine = (await listVersions(root)).filter((v) => v.manifest.finetune?.base === base);
  return mine[mine.length - 1];
}

/** Next free version number: above every version in `root` and above `current`. */
export async function nextVersion(root: string, current: number): Promise<number> {
  const all = await listVersions(root);
  return Math.max(current, ...all.map((v) => v.version)) + 1;
}

/** Staging folder a round's candidate is written into before the gate. */
export function stagingDir(root: string, round: number): string {
  return join(root, `.staging-${process.pid}-r${round}`);
}

/** Turn a staged candidate into version folder `v<N>` with its final manifest; returns the folder. */
export async function commitVersion(root: string, staging: string, manifest: FinetunedManifest): Promise<string> {
  const dir = join(root, `v${manifest.version}`);
  if (existsSync(dir)) throw new FinetuneError('LS_FINETUNE_VERSIONS', `${dir} already exists; another daemon may be fine-tuning the same bundle into ${root}`);
  await writeFile(join(staging, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  await rename(staging, dir);
  return dir;
}

/** Remove a staged candidate (rejected or failed round). */
export async function discardStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
}

/** Append one round (accepted or not) to `<root>/rounds.jsonl`. */
export async function appendRound(root: string, record: RoundRecord): Promise<void> {
  await mkdir(root, { recursive: true });
  await appendFile(join(root, 'rounds.jsonl'), JSON.stringify(record) + '\n');
}
