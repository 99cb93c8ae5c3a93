#!/usr/bin/env python3
"""Stream a pycroscopy/USID SHO-fit file to loopstream over ZeroMQ, speaking wire protocol v1 (docs/protocol.md).

Reads `.../Raw_Data-SHO_Fit_000/Fit` (compound: "Amplitude [V]", "Frequency [Hz]", "Quality Factor",
"Phase [rad]"), works out which column is which DC step, field state and cycle from the labelled rows of
Spectroscopic_Values (never from column parity), places each pixel with Position_Indices (X = column, Y = row),
and sends one `sho` scan: a start, one pixel message per position with four float32 buffers
[cycles, fields, steps] (amplitude, phase, frequency, quality), and a stop.

Needs only h5py, numpy and pyzmq. The socket is a PUSH that connects to the daemon's PULL: when the daemon is
busy, send() blocks (lossless). With --server-key the connection is CURVE-encrypted (docs/operations.md).

PUSH is one-way, so the script also subscribes to the daemon's status channel (a PUB socket, by default on the
ingest port + 1; docs/protocol.md §Status channel): it prints every refusal and warning for its scan as they come,
and after the stop waits for the daemon's `finished` message and prints the final counts (--status-endpoint ''
turns this off).

Examples:
  publish_usid.py scan.h5 --endpoint tcp://127.0.0.1:5555
  publish_usid.py scan.h5 --stop-after 20      # send 20 pixels then exit without a stop (a producer crash)
  publish_usid.py scan.h5 --from-seq 20        # a restarted producer: resend the start, continue at seq 20
"""
import argparse
import json
import sys
import time

import h5py
import numpy as np
import zmq

SHO_FIELDS = {"amplitude": "Amplitude [V]", "phase": "Phase [rad]", "frequency": "Frequency [Hz]",
              "quality": "Quality Factor"}
UNITS = {"amplitude": "V", "phase": "rad", "frequency": "Hz", "quality": ""}


def find_sho_group(h: h5py.File) -> h5py.Group:
    """The first group named *-SHO_Fit_NNN holding a Fit dataset."""
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and "-SHO_Fit_" in name.rsplit("/", 1)[-1] and "Fit" in obj:
            found.append(obj)

    h.visititems(visit)
    if not found:
        sys.exit(f"{h.filename}: no *-SHO_Fit_NNN group with a Fit dataset")
    return found[0]


def labelled_rows(ds: h5py.Dataset) -> dict:
    labels = [l.decode() if isinstance(l, bytes) else str(l) for l in ds.attrs["labels"]]
    values = ds[()]
    return {label: values[r] for r, label in enumerate(labels)}


def find_positions(grp: h5py.Group) -> np.ndarray:
    """Position_Indices as (num_pix, 2) [row, col], from the Fit's reference or the nearest ancestor."""
    fit = grp["Fit"]
    ds = grp.file[fit.attrs["Position_Indices"]] if "Position_Indices" in fit.attrs else None
    node = grp
    while ds is None and node.name != "/":
        node = node.parent
        if "Position_Indices" in node:
            ds = node["Position_Indices"]
    if ds is None:
        sys.exit(f"{grp.file.filename}: no Position_Indices for {fit.name}")
    labels = [l.decode() if isinstance(l, bytes) else str(l) for l in ds.attrs["labels"]]
    pos = ds[()]
    return np.stack([pos[:, labels.index("Y")], pos[:, labels.index("X")]], axis=1).astype(np.int64)


def layout(grp: h5py.Group):
    """(dc, fields, cycles, column index array [cycles, fields, steps]) from Spectroscopic_Values."""
    rows = labelled_rows(grp["Spectroscopic_Values"])
    ncol = grp["Fit"].shape[1]
    dc_row = rows["DC_Offset"]
    field_row = rows.get("Field", np.zeros(ncol))
    cycle_row = rows.get("Cycle", np.zeros(ncol))
    # Field 0 = out-of-field, 1 = in-field (pycroscopy); order the field axis as the columns first show it.
    fields = []
    for v in field_row:
        name = "on" if v == 1 else "off"
        if name not in fields:
            fields.append(name)
    cycles = sorted(set(cycle_row.tolist()))
    columns = {(c, f): [] for c in range(len(cycles)) for f in fields}
    for j in range(ncol):
        columns[(cycles.index(cycle_row[j]), "on" if field_row[j] == 1 else "off")].append(j)
    steps = len(columns[(0, fields[0])])
    if any(len(v) != steps for v in columns.values()):
        sys.exit(f"{grp.name}: (cycle, field) slices have different step counts: { {k: len(v) for k, v in columns.items()} }")
    index = np.array([[columns[(c, f)] for f in fields] for c in range(len(cycles))], dtype=np.int64)
    dc = dc_row[index[0, 0]].astype(float).tolist()
    return dc, fields, len(cycles), index


def default_status_endpoint(endpoint: str) -> str:
    """The daemon's `auto` status endpoint: the ingest TCP port + 1 (ipc://PATH -> ipc://PATH.status)."""
    if endpoint.startswith("tcp://"):
        host, port = endpoint[len("tcp://"):].rsplit(":", 1)
        return f"tcp://{host}:{int(port) + 1}"
    return endpoint + ".status"


class StatusWatch:
    """A SUB socket on the status channel, drained without blocking between sends."""

    def __init__(self, ctx, endpoint: str, scan_id: str, quiet: bool):
        self.scan_id, self.quiet = scan_id, quiet
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(endpoint)
        self.refused = 0
        self.finished = None

    def drain(self, timeout_ms: int = 0) -> None:
        """Handle what has arrived; wait up to timeout_ms for the first message."""
        while self.sock.poll(timeout_ms):
            timeout_ms = 0
            kind, body = self.sock.recv_multipart()
            msg = json.loads(body)
            if msg.get("scanId") not in (None, self.scan_id):
                continue
            kind = kind.decode()
            if kind in ("refused", "warning", "halted"):
                self.refused += kind == "refused"
                print(f"daemon {kind}: [{msg.get('code', msg.get('errno'))}] {msg.get('message')}", file=sys.stderr)
            elif kind == "finished":
                self.finished = msg

    def wait_finished(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.finished is None and time.monotonic() < deadline:
            self.drain(100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    p.add_argument("--scan-id", help="default: the file name without extension")
    p.add_argument("--rate", type=float, default=0, help="pixels per second; 0 = as fast as the daemon takes them")
    p.add_argument("--from-seq", type=int, default=0, help="first seq to send (a restarted producer continues here)")
    p.add_argument("--stop-after", type=int, default=0, help="exit after this many pixels without a stop message")
    p.add_argument("--server-key", help="Z85 CURVE public key of the daemon: encrypt and authenticate")
    p.add_argument("--status-endpoint", help="the daemon's status channel (default: the ingest port + 1); '' = do not listen")
    p.add_argument("--wait-finished", type=float, default=30,
                   help="seconds to wait after the stop for the daemon's final counts on the status channel")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()

    with h5py.File(a.file, "r") as h:
        grp = find_sho_group(h)
        dc, fields, cycles, index = layout(grp)
        pos = find_positions(grp)
        fit = grp["Fit"][()]
        phase_name = SHO_FIELDS["phase"]
        phase_unit = "deg" if "deg" in phase_name else "rad"
        meta = {k: (v.item() if hasattr(v, "item") else v.decode() if isinstance(v, bytes) else v)
                for k, v in h["Measurement_000"].attrs.items()} if "Measurement_000" in h else {}

    rows, cols = int(pos[:, 0].max()) + 1, int(pos[:, 1].max()) + 1
    scan_id = a.scan_id or a.file.rsplit("/", 1)[-1].split(".")[0]
    shape = [cycles, len(fields), len(dc)]
    start = {"type": "start", "protocol": 1, "scanId": scan_id, "grid": {"rows": rows, "cols": cols, "order": "raster"},
             "kind": "sho", "dcVoltage": dc, "fields": fields, "cycles": cycles, "phaseUnit": phase_unit,
             "buffers": [{"name": n, "dtype": "float32", "shape": shape, "unit": UNITS[n]} for n in SHO_FIELDS],
             "metadata": {"source_file": a.file, "producer": "examples/python/publish_usid.py", **meta}}

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 30000)  # on close, wait up to 30 s for queued messages to reach the daemon
    if a.server_key:
        client_public, client_secret = zmq.curve_keypair()
        sock.curve_serverkey = a.server_key.encode()
        sock.curve_publickey = client_public
        sock.curve_secretkey = client_secret
    sock.connect(a.endpoint)
    status_endpoint = default_status_endpoint(a.endpoint) if a.status_endpoint is None else a.status_endpoint
    watch = StatusWatch(ctx, status_endpoint, scan_id, a.quiet) if status_endpoint else None
    if watch:
        time.sleep(0.2)  # PUB/SUB: let the subscription reach the daemon before the first message
    # A restarted producer sends its start again: same layout, so the daemon continues the scan.
    sock.send_multipart([b"start", json.dumps(start).encode()])

    n = len(pos)
    sent = 0
    t0 = time.monotonic()
    for seq in range(a.from_seq, n):
        if a.stop_after and sent >= a.stop_after:
            if watch:
                watch.drain(200)
                watch.sock.close()
            sock.close()
            ctx.term()
            if not a.quiet:
                print(f"stopped after {sent} pixels (next seq {seq}), no stop message sent", file=sys.stderr)
            return
        if a.rate > 0:
            delay = t0 + sent / a.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        row, col = int(pos[seq, 0]), int(pos[seq, 1])
        header = {"type": "pixel", "scanId": scan_id, "seq": seq, "row": row, "col": col, "t": time.time()}
        buffers = [np.ascontiguousarray(fit[SHO_FIELDS[name]][seq][index], dtype="<f4").tobytes() for name in SHO_FIELDS]
        sock.send_multipart([b"pixel", json.dumps(header).encode(), *buffers])
        sent += 1
        if watch:
            watch.drain()
    stop = {"type": "stop", "scanId": scan_id, "status": "completed", "pixelsSent": n, "lastSeq": n - 1}
    sock.send_multipart([b"stop", json.dumps(stop).encode()])
    if watch:
        watch.wait_finished(a.wait_finished)
        watch.sock.close()
        f = watch.finished
        if f is None:
            print(f"no 'finished' status for {scan_id} within {a.wait_finished:g} s (is the status channel on?)", file=sys.stderr)
        else:
            print(f"daemon finished {scan_id}: status {f['status']}, received {f['received']}, recorded {f['recorded']}, "
                  f"encoded {f['encoded']}, rejected {f['rejected']}, missing {f['missing']}", file=sys.stderr)
    sock.close()
    ctx.term()
    if not a.quiet:
        print(f"sent scan {scan_id}: {rows}x{cols} grid, {sent} pixels (seq {a.from_seq}..{n - 1}), "
              f"fields {fields}, {cycles} cycle(s), {len(dc)} steps", file=sys.stderr)


if __name__ == "__main__":
    main()
