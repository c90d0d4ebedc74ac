"""The throughput benchmark's results as a Markdown section."""

from __future__ import annotations

from typing import Any


def _busy(result: dict[str, Any]) -> str:
    busy = result.get("machine_busy")
    return "?" if busy is None else f"{busy:.0%}"


def throughput_markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "## Throughput and latency",
        "",
        f"`{r['command']}` — {m['date']}, {m['machine']}, {m['cpus']} CPUs, Python {m['python']}, "
        "one local Kafka 4.1 broker (KRaft) on the same machine.",
        "",
        "| path | records | records/s | CPU s / 1k records |",
        "|---|---:|---:|---:|",
    ]
    for name, key in (("pass-through (confluent-kafka, parse + produce)", "passthrough"), ("faust agent pass-through", "faust"), ("**labeler** (transactions, default model + policy)", "labeler")):
        x = r[key]
        cpu = "-" if x["cpu_seconds_per_1k"] is None else f"{x['cpu_seconds_per_1k']:.3f}"
        lines.append(f"| {name} | {x['records']} | {x['records_per_second']:,.0f} | {cpu} |")
    lines += ["", f"**labeler / pass-through = {r['labeler_vs_passthrough']:.2f}** (target ≥ 0.5)", ""]
    lines += ["| offered rate | outcomes | p50 ms | p95 ms | p99 ms | max ms |", "|---:|---:|---:|---:|---:|---:|"]
    for rate, x in r["latency"].items():
        lines.append(f"| {int(rate):,}/s | {x['n']} | {x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | {x.get('max_ms', '-')} |")
    u = r["model_update"]
    lines += [
        "",
        "Latency: record produced → its outcome visible to a `read_committed` consumer (targets: p99 ≤ 20 ms at 1k/s, ≤ 50 ms at 10k/s).",
        "",
        f"Correction → new model version live in the labeler: p50 {u['p50_ms']} ms, p95 {u['p95_ms']} ms over {u['n']} corrections (target p95 ≤ 1000 ms).",
        "",
    ]
    s = r["scaling"]
    lines += [
        f"Scaling on a 2-partition topic (rate while the committed share goes from 20 % to 90 %): 1 labeler {s['one']['records_per_second']:,.0f}/s, "
        f"2 labelers {s['two']['records_per_second']:,.0f}/s: **{s['ratio']:.2f} ×** (target ≥ 1.7 where the broker is not the bottleneck). "
        f"All CPUs of the machine were {_busy(s['one'])} busy with one labeler, {_busy(s['two'])} with two "
        "(the broker, Redis and the benchmark share them).",
    ]
    return "\n".join(lines)
