#!/usr/bin/env python3
"""The emulator's host-time constants (sim/emu/emu_int.h) are the medians of
the runs in bench/data/emulate/h100-cuda_api_cost.txt, each run's figure
being its median of seven trials (docs/emulation.md): recomputed here, so
that the code, the data and the docs cannot drift apart. Each platform
file named after them must give the kernel launch's median as its
nccl.launch_us (microseconds), which `scalepath nccl --gpus-per-thread` uses.

    check_api_costs.py EMU_INT_H DATA [PLATFORM.cfg ...]"""
import re
import statistics
import sys

# emu_int.h constant -> the data file's row
ROWS = {
    "EMU_STREAM_QUERY_DONE_S": "cudaStreamQuery, idle stream",
    "EMU_STREAM_QUERY_BUSY_S": "cudaStreamQuery, busy stream (cudaErrorNotReady)",
    "EMU_EVENT_QUERY_DONE_S": "cudaEventQuery, completed event",
    "EMU_EVENT_QUERY_BUSY_S": "cudaEventQuery, pending event (cudaErrorNotReady)",
    "EMU_TRYLOCK_S": "pthread_mutex_trylock, held (EBUSY)",
    "EMU_TRYWAIT_S": "sem_trywait, zero (EAGAIN)",
    "EMU_LAUNCH_S": "kernel launch, empty kernel",
    "EMU_COPY_D2D_CALL_S": "cudaMemcpyAsync, device to device, 4 KiB",
    "EMU_COPY_H2D_CALL_S": "cudaMemcpyAsync, page-locked host to device, 4 KiB",
    "EMU_COPY_D2H_CALL_S": "cudaMemcpyAsync, device to page-locked host, 4 KiB",
    "EMU_COPY_PEER_SAME_CALL_S": "cudaMemcpyPeerAsync, device 0 to device 0, 4 KiB",
    "EMU_MEMSET_CALL_S": "cudaMemsetAsync, 4 KiB",
    "EMU_EVENT_RECORD_CALL_S": "cudaEventRecord, idle stream",
    "EMU_STREAM_WAIT_EVENT_CALL_S": "cudaStreamWaitEvent, completed event",
    "EMU_STREAM_SYNC_CALL_S": "cudaStreamSynchronize, idle stream",
    "EMU_EVENT_SYNC_CALL_S": "cudaEventSynchronize, completed event",
    "EMU_DEVICE_SYNC_CALL_S": "cudaDeviceSynchronize, idle device",
}


def main(argv):
    header, data, platforms = argv[0], argv[1], argv[2:]
    consts = {m.group(1): float(m.group(2))
              for m in re.finditer(r"^#define (EMU_\w+_S) ([0-9.e+-]+)\s*$", open(header).read(), re.M)}
    runs = {}
    for line in open(data):
        m = re.match(r"^host\s+(.*?)\s+([\d.]+) us", line)
        if m:
            runs.setdefault(m.group(1), []).append(float(m.group(2)))
    bad = 0
    for name, row in ROWS.items():
        if name not in consts or row not in runs:
            print("FAIL: %s or its row '%s' is missing" % (name, row))
            bad += 1
            continue
        want = statistics.median(runs[row]) * 1e-6
        ok = abs(consts[name] - want) <= 1e-12
        print("%-30s %.4g s, median of %d run(s) %.4g s%s" % (name, consts[name], len(runs[row]), want,
                                                              "" if ok else "  FAIL"))
        bad += not ok
    launch = statistics.median(runs.get(ROWS["EMU_LAUNCH_S"], [float("nan")]))
    for path in platforms:
        m = re.search(r"^\s*launch_us\s*=\s*([0-9.eE+-]+)\s*;", open(path).read(), re.M)
        ok = m is not None and abs(float(m.group(1)) - launch) <= 1e-9
        print("%-30s %s us, median %.4g us%s" % (path, m.group(1) if m else "(none)", launch, "" if ok else "  FAIL"))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
