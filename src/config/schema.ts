/**
 * The one place every configuration key lives: its type, its default and a one-line description.
 * `config/default.yaml` is rendered from this schema (`npm run config:render`); a test fails when they differ.
 */
import { z } from 'zod';

// Each section defaults to {} so its keys take their own defaults. (The cast: zod cannot prove {} fits a generic shape.)
const section = <T extends z.ZodRawShape>(shape: T, description: string) =>
  z.object(shape).strict().prefault({} as never).describe(description);

/**
 * A ZeroMQ endpoint libzmq can bind or connect: tcp://host:port (port 1–65535 or * for any), ipc://path or
 * inproc://name. Checked here so a typo fails at start-up with exit code 2, not inside the socket.
 */
const ZMQ_ENDPOINT = /^(tcp:\/\/(\*|[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(\*|[1-9][0-9]{0,4})|ipc:\/\/\S+|inproc:\/\/\S+)$/;
const zmqEndpoint = () =>
  z
    .string()
    .regex(ZMQ_ENDPOINT, 'a ZeroMQ endpoint: tcp://HOST:PORT (PORT 1-65535 or *), ipc://PATH or inproc://NAME')
    .refine((e) => !/^tcp:/.test(e) || e.endsWith(':*') || Number(e.slice(e.lastIndexOf(':') + 1)) <= 65535, 'TCP port must be 1-65535 or *');
/** A Z85-encoded CURVE key: exactly 40 characters of the Z85 alphabet (32 bytes). */
const Z85_KEY = /^[0-9A-Za-z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;
const z85Key = (what: string) => z.string().regex(Z85_KEY, `${what} must be a Z85 CURVE key: 40 characters, as zmq_curve_keypair() makes them (docs/operations.md)`);

export const IngestConfig = section(
  {
    endpoint: zmqEndpoint().default('tcp://127.0.0.1:5555').describe('ZeroMQ endpoint the daemon listens on (bind) or dials (connect)'),
    mode: z.enum(['bind', 'connect']).default('bind').describe('bind: producers connect to us; connect: we dial the producer'),
    socket: z.enum(['pull', 'sub']).default('pull').describe('pull: lossless, the producer blocks when we fall behind; sub: monitor only, drops at the high-water mark'),
    highWaterMark: z.number().int().positive().max(1_000_000).default(10000).describe('ZMQ_RCVHWM: messages queued in the socket before the producer blocks (pull) or messages drop (sub); 1 to 1,000,000'),
    pendingLimit: z.number().int().positive().max(1_000_000).default(10000).describe('pixels held for scans whose start message has not arrived; beyond it they are refused'),
    pendingMaxBytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024 * 1024)
      .default(64 * 1024 * 1024)
      .describe('bytes of pixel buffers held for scans whose start message has not arrived (all scans together); beyond it they are refused (LS_PENDING_BYTES)'),
    statusEndpoint: z
      .union([z.literal(''), z.literal('auto'), zmqEndpoint()])
      .default('auto')
      .describe('ZeroMQ PUB endpoint of the status channel (accepted, refused, recorded, encoded per scan; docs/protocol.md); auto = the ingest port + 1 on the same host (ipc: PATH.status), empty = off'),
    maxOpenScans: z.number().int().positive().max(10_000).default(16).describe('scans open at once (started, not stopped); a start beyond it is refused with LS_SCAN_LIMIT'),
    maxScanPixels: z.number().int().positive().max(8192 * 8192).default(512 * 512).describe('largest grid (rows x cols) a start may declare; ~1 KB of memory per pixel, allocated at its first pixel; beyond it LS_SCAN_TOO_LARGE'),
    curve: z
      .object({
        serverSecretKey: z.union([z.literal(''), z85Key('ingest.curve.serverSecretKey')]).default('').describe('Z85 CURVE secret key of this daemon (40 characters); empty = no encryption'),
        serverPublicKey: z.union([z.literal(''), z85Key('ingest.curve.serverPublicKey')]).default('').describe('Z85 CURVE public key of this daemon (given to producers)'),
        clientPublicKeys: z.array(z85Key('each of ingest.curve.clientPublicKeys')).default([]).describe('Z85 public keys of the producers allowed in; empty = any producer that knows serverPublicKey'),
      })
      .strict()
      .prefault({})
      .describe('ZeroMQ CURVE encryption and authentication (docs/operations.md)'),
  },
  'live input over ZeroMQ (protocol v1, docs/protocol.md)',
);

export const ReplayConfig = section(
  {
    pace: z
      .string()
      .regex(/^(max|realtime|x[0-9]+(\.[0-9]+)?|[0-9]+(\.[0-9]+)?pxps)$/, 'max, realtime, xN (N times real time) or Npxps (pixels per second)')
      .default('max')
      .describe('replay pacing: max, realtime (from timestamps), xN (N times faster), or Npxps'),
    roots: z.array(z.string()).default(['.']).describe('folders files may be replayed from by name (server requests are confined to them)'),
    maxGapSeconds: z.number().positive().finite().default(5).describe('realtime pacing waits at most this long between two pixels; longer timestamp gaps are skipped and logged'),
  },
  'replay of HDF5 files (own recordings, NSID, USID SHO fits)',
);

export const DataConfig = section(
  {
    dir: z.string().default('data').describe('folder for raw recordings and results files, one pair per scan'),
    record: z.boolean().default(true).describe('append every raw pixel to the scan recording before processing'),
    resultsFlushMs: z.number().int().positive().default(2000).describe('how often the results file is flushed while a scan runs'),
    keepFinishedScans: z.number().int().positive().default(50).describe('finished scans kept in memory for the dashboard and re-encoding; older ones leave memory (their files stay)'),
  },
  'where recordings and results go',
);

export const ModelConfig = section(
  {
    bundle: z.string().default('fixtures/models/sim-broad').describe('model bundle folder (model.onnx + preprocess.json + manifest.json)'),
    engine: z.enum(['onnx', 'tfjs']).default('onnx').describe('inference engine: onnx (onnxruntime-node) or tfjs'),
    provider: z.enum(['cpu', 'cuda', 'webgpu']).default('cpu').describe('onnxruntime execution provider; cuda/webgpu need a GPU build (docs/operations.md)'),
    threads: z.number().int().positive().default(2).describe('onnxruntime intraOpNumThreads'),
  },
  'the beta-VAE bundle and how it runs',
);

export const BatchConfig = section(
  {
    maxSize: z.number().int().positive().default(256).describe('pixels per inference call'),
    maxWaitMs: z.number().positive().default(10).describe('longest a pixel waits for its batch to fill (10: p99 latency at 100 px/s, docs/performance.md)'),
    maxQueue: z.number().int().positive().default(200000).describe('pixels allowed to wait for inference before ingest stops accepting'),
  },
  'micro-batching in front of inference',
);

export const ServerConfig = section(
  {
    enabled: z.boolean().default(true).describe('serve the dashboard, /metrics and /healthz'),
    host: z.string().default('127.0.0.1').describe('bind address; anything beyond loopback requires a token'),
    port: z.number().int().min(0).max(65535).default(8080).describe('HTTP port (0 = any free port)'),
    token: z.string().default('').describe('access token for the dashboard and Socket.IO; required when host is not loopback'),
    maxDeltaHz: z.number().positive().max(60).default(10).describe('most map updates per second sent to one client'),
    allowedOrigins: z
      .array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin: scheme://host[:port], no path'))
      .default([])
      .describe('browser origins allowed besides the dashboard itself (e.g. https://lab-proxy.example); docs/dashboard.md'),
    redis: z.string().default('').describe('Redis URL of the Socket.IO Redis adapter: `serve --viewer` processes on the same URL and key serve this daemon\'s dashboard to their own viewers (docs/scale.md §Many viewers); empty = off'),
    redisKey: z.string().regex(/^[A-Za-z0-9:_.-]+$/, 'letters, digits and : _ . -').default('loopstream-dashboard').describe('Redis channel prefix of the adapter: one per daemon when several daemons share a Redis (its viewers must use the same)'),
  },
  'dashboard server (HTTP + Socket.IO)',
);

export const SimConfig = section(
  {
    rows: z.number().int().positive().default(60).describe('grid rows of the simulated scan'),
    cols: z.number().int().positive().default(60).describe('grid columns of the simulated scan'),
    seed: z.number().int().default(1).describe('random seed: the same seed gives the same scan'),
    anomalies: z.number().int().min(0).default(3).describe('planted anomalous regions'),
    ratePxPerSec: z.number().positive().default(200).describe('pixels per second when publishing live'),
  },
  'the built-in BEPS simulator (loopstream simulate, npm start)',
);

export const AlertsConfig = section(
  {
    enabled: z.boolean().default(true).describe('score every encoded pixel and raise alerts on anomalous regions'),
    errorThreshold: z.number().positive().default(4).describe('robust z of ln(reconstruction error) at which a pixel is anomalous (against the training reference and the scan so far)'),
    latentThreshold: z.number().nonnegative().default(8).describe('robust z of the latent distance (ln Mahalanobis d², or ln k-th-neighbour distance) at which a pixel is anomalous; 0 = latent score off'),
    latentMethod: z.enum(['mahalanobis', 'knn', 'lof']).default('lof').describe('latent distance to the training embeddings: mahalanobis (one Gaussian), knn (distance to the k-th nearest of a stored sample; suits several mechanisms) or lof (that distance over the neighbours\' own, so sparse normal regions do not fire)'),
    growFactor: z.number().positive().max(1).default(0.75).describe('hysteresis: a pixel touching a region joins it at this fraction of the thresholds'),
    warmupPixels: z.number().int().min(0).default(256).describe('pixels of a scan seen before its running median/MAD is used; earlier pixels wait and are scored then'),
    reservoirSize: z.number().int().min(16).default(4096).describe('samples kept for the running median/MAD of ln(error) (reservoir sampling)'),
    minArea: z.number().int().positive().default(10).describe('pixels a connected region (8-neighbourhood) needs before it raises an alert'),
    calibrateFromScan: z.number().int().min(0).default(0).describe('opt-in: when the bundle has no usable alerts reference, calibrate one per scan from its first N encoded pixels (treated as clean) and alert on the rest; 0 = off'),
    cooldownMs: z.number().int().min(0).default(1000).describe('least time between two updates of one alert; changes in between are sent together'),
    sinks: z
      .object({
        dashboard: z.boolean().default(true).describe('push alerts to the dashboard (Socket.IO alert:raised)'),
        zmq: z
          .object({
            endpoint: z.string().default('').describe('ZeroMQ PUB endpoint to bind, e.g. tcp://127.0.0.1:5557; empty = off'),
            topic: z.string().min(1).default('alert').describe('first frame of every published alert'),
          })
          .strict()
          .prefault({})
          .describe('ZeroMQ PUB of alerts as [topic, JSON]'),
        jsonl: z
          .object({
            path: z.string().default('').describe('file alerts are appended to, one JSON event a line; empty = off'),
          })
          .strict()
          .prefault({})
          .describe('JSON-lines alert log'),
        webhook: z
          .object({
            url: z.string().default('').describe('HTTP(S) URL each alert event is POSTed to as JSON; empty = off'),
            retries: z.number().int().min(0).default(3).describe('retries after a failed POST'),
            timeoutMs: z.number().int().positive().default(5000).describe('per-attempt timeout'),
            backoffMs: z.number().int().min(0).default(500).describe('first retry delay; doubles per retry'),
            maxQueue: z.number().int().positive().default(1000).describe('events waiting to be posted; beyond it new events are dropped and counted'),
          })
          .strict()
          .prefault({})
          .describe('webhook (never blocks the pipeline)'),
      })
      .strict()
      .prefault({})
      .describe('where alert events go'),
  },
  'anomaly alerts on connected regions (docs/alerts.md)',
);

export const TrainConfig = section(
  {
    preset: z.enum(['mlp', 'conv', 'edge', 'paper']).default('mlp').describe('architecture (docs/model.md): mlp (T*C-256-128-16, the fastest to train on a CPU; chosen by measurement), conv (3 strided Conv1D), edge (BiLSTM 16 units) or paper (the reference BiLSTM, 5.0 M parameters, needs a GPU)'),
    epochs: z.number().int().positive().default(1000).describe('most training epochs (passes over the training pixels); maxMinutes usually ends the run first'),
    batch: z.number().int().positive().default(128).describe('pixels per training batch (the paper: 300; mlp/conv train fastest per CPU-second at 128, the edge LSTM at 32)'),
    learningRate: z.number().positive().default(2e-3).describe('Adam learning rate (the paper: 3e-5 over 20,000+ epochs on GPUs)'),
    primingEpochs: z.number().int().min(0).default(20).describe('schedule mode: epochs at beta = 0 before the beta steps start'),
    betaStep: z.number().min(0).default(0.0025).describe('schedule mode: beta increase per step (the paper: 0.0025 real data, 0.005 toy data)'),
    betaEvery: z.number().int().positive().default(5).describe('schedule mode: epochs between beta steps'),
    betaMode: z.enum(['constrained', 'schedule']).default('constrained').describe('constrained: beta adapts during training so that KL is minimised subject to the reconstruction MSE through mu <= betaTarget x the PCA-5 MSE of the training pixels (GECO; docs/model.md); schedule: the fixed schedule (primingEpochs, betaStep, betaEvery, betaMax)'),
    betaTarget: z.number().positive().max(2).default(0.85).describe('constrained mode: the reconstruction target kappa as a fraction of the training pixels\' PCA-5 MSE (< 1 asks for better than a 5-component linear model)'),
    betaBaseline: z.enum(['auto', 'perScan', 'pooled']).default('auto').describe('constrained mode: what kappa is set from. perScan: each training scan\'s own PCA-5 (the constraint is mean(MSE / its scan\'s PCA-5) <= betaTarget, and the loss weighs each pixel\'s error by the same 1 / PCA-5); pooled: one PCA-5 over all training pixels; auto: perScan when the pixels come from two scans or more'),
    betaInitial: z.number().positive().default(1e-3).describe('constrained mode: beta until the reconstruction first meets the target, and where the control starts from'),
    betaMin: z.number().positive().default(1e-4).describe('constrained mode: smallest beta'),
    betaLimit: z.number().positive().default(10).describe('constrained mode: largest beta'),
    betaRate: z.number().positive().default(0.1).describe('constrained mode: change of ln(beta) per batch when the constraint is off by 100 %'),
    betaSmoothing: z.number().min(0).max(0.999).default(0.9).describe('constrained mode: weight of the past in the moving average of the constraint, per batch'),
    betaMax: z.number().min(0).default(0.02).describe('schedule mode: largest beta reached'),
    checkpointEvery: z.number().int().positive().default(5).describe('epochs between checkpoints (weights + optimizer state, for --resume)'),
    checkpointSeconds: z.number().min(0).default(30).describe('and at least this many seconds between checkpoints (an mlp epoch on a small scan takes well under a second: writing every 5 would take most of the run)'),
    seed: z.number().int().default(1).describe('random seed for weights, shuffling and sampling'),
    valFraction: z.number().min(0).max(0.5).default(0.1).describe('fraction of pixels held out to measure reconstruction error'),
    maxMinutes: z.number().min(0).default(2).describe('wall-clock budget: stop at the end of the epoch that crosses it and keep the best held-out weights (0 = no limit; the beta schedule is fitted into the budget)'),
    stepEngine: z.enum(['auto', 'onnxruntime', 'tfjs']).default('auto').describe('what runs a training step: onnxruntime (forward, backward and Adam as one ONNX graph on onnxruntime\'s native kernels; mlp only, 5-10x the tfjs wasm speed), tfjs (the tfjs backend: wasm, or tfjs-node-gpu when installed), auto (onnxruntime for mlp, tfjs for the others)'),
    threads: z.number().int().positive().default(1).describe('onnxruntime threads of a training step (1 is the fastest on a 2-core machine: docs/performance.md)'),
  },
  'training the beta-VAE (loopstream train)',
);

export const FinetuneConfig = section(
  {
    enabled: z.boolean().default(false).describe('fine-tune the model in a background worker while scans run (replay: --finetune)'),
    everyPixels: z.number().int().positive().default(2000).describe('start a round after this many newly encoded pixels'),
    everyMinutes: z.number().positive().default(10).describe('or after this many minutes, when at least minPixels new pixels arrived'),
    minPixels: z.number().int().positive().default(256).describe('fewest new pixels a time-triggered round needs'),
    maxRounds: z.number().int().min(0).default(0).describe('most rounds per daemon run (0 = no limit)'),
    bufferPixels: z.number().int().positive().default(4096).describe('recent encoded pixels kept in the replay buffer'),
    holdoutFraction: z.number().gt(0).lt(1).default(0.15).describe('share of recent pixels never trained on; the gate measures candidates on them'),
    referencePixels: z.number().int().min(0).default(2048).describe("pixels of the bundle's training data kept against forgetting (train-sample.bin, else re-read from the manifest's files)"),
    referenceMix: z.number().min(0).default(2).describe('reference pixels mixed in per recent training pixel'),
    referenceHoldout: z.number().gt(0).lt(1).default(0.25).describe('share of the reference sample kept out of training as the gate\'s reference slice'),
    epochs: z.number().int().min(0).default(3).describe('epochs per round over its training pixels'),
    batch: z.number().int().positive().default(128).describe('pixels per training batch'),
    learningRate: z.number().positive().default(3e-4).describe('Adam learning rate of a round (fresh optimizer each round)'),
    beta: z.number().min(0).nullable().default(null).describe("β of the KL term; null = the bundle's β (fixed mode) or the controller's start (constrained mode); a number forces fixed mode at that β"),
    betaMode: z.enum(['auto', 'constrained', 'fixed']).default('auto').describe("auto: constrained when the bundle was trained or fine-tuned in the constrained mode, else fixed; constrained: beta adapts so that the scan's recent pixels reconstruct within train.betaTarget x their own PCA-5 MSE with as few active channels as that allows (docs/finetune.md); fixed: one beta for the whole round"),
    seed: z.number().int().default(1).describe('random seed for shuffling and sampling'),
    maxRoundMinutes: z.number().positive().default(10).describe('a round stops training after this long and is gated with what it learned'),
    cpuShare: z.number().gt(0).max(1).default(0.5).describe('share of one CPU core the training thread may compute (it sleeps the rest)'),
    pauseQueueDepth: z.number().int().positive().default(512).describe('training pauses while more pixels than this wait for inference (512 = two full batches)'),
    backend: z.enum(['auto', 'wasm', 'cpu']).default('auto').describe('tfjs backend of the worker: auto = tfjs-node-gpu when installed, else wasm'),
    dir: z.string().default('').describe('folder of accepted versions v<N>/; empty = <data.dir>/models/<bundle folder name>'),
    continueFromLatest: z.boolean().default(true).describe('on start, load the latest accepted version of the configured bundle'),
    gate: z
      .object({
        minImprovement: z.number().min(0).lt(1).default(0.02).describe('relative drop of held-out MSE a candidate needs (0.02 = 2 %)'),
        maxReferenceWorsening: z.number().min(0).default(0.2).describe('relative rise of reference-slice MSE tolerated (0.2 = 20 %)'),
      })
      .strict()
      .prefault({})
      .describe('when a candidate replaces the model'),
  },
  'background fine-tuning with a validation gate and hot swap (docs/finetune.md)',
);

export const BaselinesConfig = section(
  {
    enabled: z.boolean().default(true).describe('fit PCA-5 and dictionary learning on every scan\'s own model inputs at its end and report their errors beside the model\'s (replay summary, results file)'),
    samplePixels: z.number().int().min(6).default(1000).describe('encoded pixels (seeded random sample) the two baselines are fitted on; caps their cost'),
    evalPixels: z.number().int().positive().default(10000).describe('most encoded pixels their errors are averaged over'),
    dlMaxIter: z.number().int().positive().default(30).describe('dictionary-learning iterations (atoms and codes alternate)'),
    seed: z.number().int().default(1).describe('seed of the pixel samples and the k-means start'),
  },
  'linear baselines of each scan: PCA with 5 components and dictionary learning (5 atoms, alpha 1, positive codes), docs/model.md',
);

export const OodConfig = section(
  {
    enabled: z.boolean().default(true).describe('compare each scan with the bundle\'s training reference and say when the model does not fit it'),
    minPixels: z.number().int().positive().default(256).describe('encoded pixels of a scan before the first check'),
    everyPixels: z.number().int().positive().default(256).describe('pixels between two checks (over the latest windowPixels)'),
    windowPixels: z.number().int().positive().default(1024).describe('latest encoded pixels a check looks at'),
    errorRatio: z.number().gt(1).default(3).describe('not fitting when the window\'s median reconstruction error exceeds this multiple of the training median'),
    inputShift: z.number().positive().default(1).describe('not fitting when a channel\'s input mean moves by more than this many training std, or its std changes by more than e^this'),
  },
  'out-of-distribution check: does the model fit this scan (docs/model.md)',
);

export const ScaleConfig = section(
  {
    redis: z.string().default('').describe('Redis URL of the job queue (redis://[:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS); --redis overrides it'),
    queue: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -').default('loopstream-reprocess').describe('BullMQ queue name that reprocess enqueues to and workers take jobs from'),
    attempts: z.number().int().min(1).max(100).default(3).describe('tries per job before it is failed with the error code (a file that cannot be read fails after these, never loops)'),
    backoffMs: z.number().int().min(0).default(1000).describe('delay before a failed job is tried again (exponential: doubles each try)'),
    lockMs: z.number().int().min(500).default(30000).describe('job lock a worker renews while it works; a worker killed mid-job loses its job to another worker after about this long'),
    stalledMs: z.number().int().min(200).default(30000).describe('how often workers look for jobs whose lock expired (a killed worker) and put them back in the queue'),
    maxStalled: z.number().int().min(0).default(1).describe('times a job may be put back after its worker died before it is failed (a job that kills its worker every time)'),
    progressMs: z.number().int().min(50).default(500).describe('least time between two progress reports of a running job (each is a Redis round trip)'),
    rangePixels: z.number().int().min(0).default(16384).describe('a scan with more pixels than this is split into pixel-range jobs of at most this many pixels plus one merge job (0 = never split)'),
  },
  'archive reprocessing across workers: BullMQ on Redis (docs/scale.md)',
);

export const FacilityConfig = section(
  {
    redis: z.string().default('').describe('Redis URL the daemon publishes its scans\' lifecycle, progress, model, mean error and alerts to (never pixels); empty = off. redis://[:PASSWORD@]HOST:PORT[/DB], rediss:// for TLS'),
    stream: z.string().regex(/^[A-Za-z0-9:_.-]+$/, 'letters, digits and : _ . -').default('loopstream:facility').describe('Redis Stream the daemons publish to and `loopstream facility` reads'),
    maxLen: z.number().int().min(100).default(10000).describe('approximate length the stream is trimmed to on every XADD (MAXLEN ~): Redis memory stays bounded'),
    daemonId: z.string().max(200).default('').describe('name of this daemon on the facility page; empty = <hostname>:<dashboard port>'),
    dashboardUrl: z.string().max(2000).default('').describe('link to this daemon\'s dashboard on the facility page; empty = the URL the dashboard listens on'),
    progressMs: z.number().int().min(100).default(1000).describe('how often a daemon publishes progress of its running scans and a heartbeat'),
    queueMax: z.number().int().min(1).default(1000).describe('events held in memory while they wait for Redis; beyond that (and while Redis is down) events are dropped and counted'),
    staleMs: z.number().int().min(1000).default(15000).describe('`loopstream facility`: a daemon not heard from for this long is shown stale'),
    host: z.string().default('127.0.0.1').describe('`loopstream facility`: address the page listens on (--host overrides; beyond loopback needs facility.token)'),
    port: z.number().int().min(0).max(65535).default(8090).describe('`loopstream facility`: HTTP port of the page (--port overrides; 0 = any free port)'),
    token: z.string().default('').describe('`loopstream facility`: access token required when the page listens beyond loopback (?token=… once, then a cookie)'),
  },
  'facility view: daemons publish scan events to a Redis Stream, `loopstream facility` shows them all (docs/scale.md)',
);

export const LogConfig = section(
  {
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('log level'),
    format: z.enum(['auto', 'json', 'pretty']).default('auto').describe('auto: human-readable (pino-pretty) when stderr is a terminal, JSON lines otherwise; json; pretty'),
  },
  'structured logging (pino)',
);

export const Config = z
  .object({
    ingest: IngestConfig,
    replay: ReplayConfig,
    data: DataConfig,
    model: ModelConfig,
    batch: BatchConfig,
    server: ServerConfig,
    sim: SimConfig,
    alerts: AlertsConfig,
    train: TrainConfig,
    finetune: FinetuneConfig,
    baselines: BaselinesConfig,
    ood: OodConfig,
    scale: ScaleConfig,
    facility: FacilityConfig,
    log: LogConfig,
  })
  .strict();
export type Config = z.infer<typeof Config>;

/** Every default, from the schema itself. */
// jitless: zod compiles a fast parser (generated code, `new Function`) for each object schema at its first parse; the
// config is parsed once or twice per process, so building those ~25 parsers cost more at every start than it saves
// (docs/performance.md §Start-up and whole-process replay). Hot schemas (protocol headers) keep the fast path.
export const DEFAULTS: Config = Config.parse({}, { jitless: true });
