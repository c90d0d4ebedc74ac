"""Who had the CPUs: process, broker and machine CPU clocks from /proc, read around a measured window."""

from __future__ import annotations

import os
import time
from pathlib import Path

from labelstream.bench.results import ThroughputResult


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_cpu_seconds() -> float | None:
    """CPU seconds of the local Kafka broker(s) ``deploy/stack.sh`` started (their pid files), or ``None``."""
    stack = Path(os.environ.get("LABELSTREAM_STACK_DIR", ".stack"))
    total, found = 0.0, False
    # Not "kafka*/**": that walks the brokers' log directories, which they delete under it (FileNotFoundError
    # from the walk: a CpuWindow test failed so after the fault suite). One node: kafka/; a cluster: kafka/nodeN/.
    for pidfile in [*stack.glob("kafka*/kafka.pid"), *stack.glob("kafka*/node*/kafka.pid")]:
        try:
            total += cpu_seconds(int(pidfile.read_text().strip()))
            found = True
        except (OSError, ValueError):
            continue
    return total if found else None


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) memory of a process in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class CpuWindow:
    """CPU of named processes, of the local broker and of the whole machine between ``clock("start")`` and
    ``clock("stop")``, in cores (:attr:`cores`): who had the 2 CPUs while the latency was measured."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.cores: dict[str, float | None] = {}
        self._start: tuple[float, dict[str, float], float | None, tuple[int, int]] | None = None

    def _sample(self) -> tuple[float, dict[str, float], float | None, tuple[int, int]]:
        return time.perf_counter(), {name: cpu_seconds(pid) for name, pid in self.pids.items()}, broker_cpu_seconds(), machine_cpu_times()

    def clock(self, event: str) -> None:
        try:
            sample = self._sample()
        except OSError:  # a process ended: no figure rather than a wrong one
            return
        if event == "start":
            self._start = sample
            return
        if self._start is None:
            return
        (t0, cpu0, broker0, machine0), (t1, cpu1, broker1, _machine1) = self._start, sample
        seconds = max(t1 - t0, 1e-9)
        self.cores = {name: round((cpu1[name] - cpu0[name]) / seconds, 3) for name in self.pids}
        self.cores["broker"] = None if broker0 is None or broker1 is None else round((broker1 - broker0) / seconds, 3)
        self.cores["machine"] = round(machine_busy_since(machine0) * (os.cpu_count() or 1), 3)


def machine_cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_busy_since(start: tuple[int, int]) -> float:
    busy, total = machine_cpu_times()
    return (busy - start[0]) / max(total - start[1], 1)


class CpuClocks:
    """CPU clocks read at the start of a measured window (:func:`wait_committed`): of the measured processes, of the
    broker, of the benchmark's own process and of the machine; :meth:`result` reads them again."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started = time.perf_counter()
        self.cpu = [cpu_seconds(pid) for pid in pids]
        self.waits = [cpu_wait_seconds(pid) for pid in pids]
        self.broker = broker_cpu_seconds()
        self.bench = cpu_seconds(os.getpid())
        self.machine = machine_cpu_times()
        self.pressure = cpu_pressure_seconds()

    def result(self, records: int) -> ThroughputResult:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        cpu = [cpu_seconds(pid) - before for pid, before in zip(self.pids, self.cpu, strict=True)]
        waits = [cpu_wait_seconds(pid) - before for pid, before in zip(self.pids, self.waits, strict=True)]
        broker, pressure = broker_cpu_seconds(), cpu_pressure_seconds()
        return ThroughputResult(
            records, seconds, sum(cpu), machine_busy_since(self.machine),
            cpu_shares=[c / seconds for c in cpu],
            cpu_wait_shares=[w / seconds for w in waits],
            broker_cpu_share=None if broker is None or self.broker is None else (broker - self.broker) / seconds,
            bench_cpu_share=(cpu_seconds(os.getpid()) - self.bench) / seconds,
            cpu_pressure=None if pressure is None or self.pressure is None else min(1.0, (pressure - self.pressure) / seconds),
        )


def cpu_wait_seconds(pid: int) -> float:
    """Seconds the threads of a process were runnable but waiting for a CPU, summed over its threads (the
    scheduler's run delay, /proc/<pid>/task/*/schedstat); a thread that ended takes its share with it."""
    waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waited / 1e9


def cpu_pressure_seconds() -> float | None:
    """Seconds in which at least one task of the machine was runnable but waiting for a CPU (the kernel's pressure
    stall information, /proc/pressure/cpu "some"), or ``None`` where the kernel does not give it."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(some.rsplit("total=", 1)[1]) / 1e6
