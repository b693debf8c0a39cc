#!/usr/bin/env python3
"""Writes docs/performance.md from the JSON that bench/run.sh collected (tern-loadgen and
tern-micro-bench output), followed by the hand-written analysis in bench/performance_notes.md."""
import argparse
import datetime
import json
import os
import platform


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(v, unit="", digits=1):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:,.{digits}f}{unit}"


def ratio(a, b):
    if a is None or b is None or isinstance(a, str) or isinstance(b, str) or not b:
        return "—"
    return f"{a / b:.2f}×"


def get(d, *path):
    for p in path:
        if d is None:
            return None
        d = d.get(p) if isinstance(d, dict) else None
    return d


def verdict(value, limit):
    if value is None or isinstance(value, str):
        return "not measured"
    return "met" if value <= limit else "**missed**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--notes")
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--before", help="figures of an earlier run (bench/before-issue-8.json)")
    a = ap.parse_args()
    before = load(a.before) if a.before else None

    rows = []  # scenario, figure, tern, bare, ratio, target, verdict

    def scenario(name):
        return load(os.path.join(a.out, name, "tern.json")), load(os.path.join(a.out, name, "bare.json"))

    def sotw_flip(name, via, change):
        t, b = scenario(name)
        if not t:
            return
        n = t["streams"]
        sc = (f"one instance health flip ({via}), {n:,} SotW ADS streams on that cluster "
              f"({t.get('clusters_per_stream', 0):,} clusters each)")
        tc, bc = get(t, "convergence", "p99_ms"), get(b, "convergence", "p99_ms")
        rows.append((sc, f"convergence p99, ms (from {change} / bare: from signal)", fmt(tc), fmt(bc), ratio(tc, bc),
                     "≤ 1.3× bare", verdict(tc / bc if tc is not None and bc else None, 1.3)))
        rows.append((sc, "convergence p50 / max, ms",
                     f"{fmt(get(t, 'convergence', 'p50_ms'))} / {fmt(get(t, 'convergence', 'max_ms'))}",
                     f"{fmt(get(b, 'convergence', 'p50_ms'))} / {fmt(get(b, 'convergence', 'max_ms'))}", "", "", ""))
        tf, bf = get(t, "fanout", "p99_ms"), get(b, "fanout", "p99_ms")
        rows.append((sc, "fan-out p99, ms (first stream's response → each stream's ACK)", fmt(tf), fmt(bf),
                     ratio(tf, bf), "", ""))
        tfr = [c.get("first_response_ms") for c in t.get("changes", []) if c.get("affected_streams")]
        if tfr:
            rows.append((sc, f"{change} → first response, ms (mean)", fmt(sum(tfr) / len(tfr)), "", "", "", ""))
        affected = [c.get("affected_streams") for c in t.get("changes", [])]
        rows.append((sc, "streams reached per change (min)", fmt(min(affected) if affected else None, digits=0),
                     fmt(min([c.get("affected_streams") for c in get(b, "changes") or []] or [0]), digits=0) if b else "—",
                     "", f"{n:,}", ""))
        tb, bb = t.get("bytes_per_change"), get(b, "bytes_per_change")
        rows.append((sc, "bytes received per change (all streams)", fmt(tb, digits=0), fmt(bb, digits=0),
                     ratio(tb, bb), "", ""))
        tcpu, bcpu = get(t, "server", "cpu_ms_per_change"), get(b, "server", "cpu_ms_per_change")
        rows.append((sc, "server CPU per change, ms (utime+stime)", fmt(tcpu), fmt(bcpu), ratio(tcpu, bcpu),
                     "≤ 1.5× bare",
                     verdict(tcpu / bcpu if tcpu is not None and bcpu else None, 1.5)))
        tn, bn = get(t, "server", "cpu_ms_per_change_net_of_idle"), get(b, "server", "cpu_ms_per_change_net_of_idle")
        rows.append((sc, "server CPU per change net of idle, ms", fmt(tn), fmt(bn), ratio(tn, bn), "", ""))
        tm, bm = get(t, "server", "rss_kib_per_stream"), get(b, "server", "rss_kib_per_stream")
        rows.append((f"{n:,} idle SotW streams (after sync, {via})", "RSS per stream beyond the snapshot, KiB", fmt(tm),
                     fmt(bm), ratio(tm, bm), "≤ 1.25× bare", verdict(tm / bm if tm is not None and bm else None, 1.25)))

    def delta_flip(name, via):
        t, b = scenario(name)
        if not t:
            return
        n = t["streams"]
        sc = f"one instance health flip ({via}), {n:,} delta ADS streams"
        if t.get("unsupported"):
            rows.append((sc, "convergence p99, ms", "unsupported (server answered UNIMPLEMENTED)", "—", "—",
                         "≤ 250 ms", "not measured"))
            return
        tc, bc = get(t, "convergence", "p99_ms"), get(b, "convergence", "p99_ms")
        ok = get(t, "initial_sync", "all_synced")
        rows.append((sc, "convergence p99, ms", fmt(tc) if ok else "initial sync incomplete", fmt(bc),
                     ratio(tc, bc), "≤ 1.3× bare", verdict(tc / bc if ok and tc is not None and bc else None, 1.3)))
        rows.append((sc, "fan-out p99, ms", fmt(get(t, "fanout", "p99_ms")), fmt(get(b, "fanout", "p99_ms")),
                     ratio(get(t, "fanout", "p99_ms"), get(b, "fanout", "p99_ms")), "", ""))
        rows.append((sc, "RSS per stream, KiB", fmt(get(t, "server", "rss_kib_per_stream")),
                     fmt(get(b, "server", "rss_kib_per_stream")), "", "", ""))

    sotw_flip("flip-consul-sotw", "Consul catalog write", "the Consul write")
    sotw_flip("flip-consul-sotw-aggregate", "Consul catalog write, aggregate watching, Consul's default limits",
              "the Consul write")
    delta_flip("flip-consul-delta", "Consul catalog write")
    sotw_flip("flip-sotw", "file source", "rename(2)")
    delta_flip("flip-delta", "file source")

    cs = load(os.path.join(a.out, "consul-sync", "sync.json"))
    if cs:
        sc = (f"tern's start against Consul with default limits, {cs['services']:,} services × "
              f"{cs['instances']} instances (aggregate watching)")
        rows.append((sc, "time to ready (first full snapshot), s", fmt(cs.get("ready_s"), digits=2), "", "", "", ""))
        rows.append((sc, "connections held to Consul after start", fmt(cs.get("connections"), digits=0), "", "",
                     "≤ 16", verdict(cs.get("connections"), 16)))
        rows.append((sc, "Consul CPU during tern's start, s", fmt(cs.get("consul_cpu_s"), digits=2), "", "", "", ""))
        rows.append((sc, "tern RSS after start, MB", fmt(cs.get("tern_rss_mb")), "", "", "", ""))

    t, b = scenario("sync")
    if t:
        n = t["streams"]
        sc = f"initial sync, {n:,} SotW streams × {t.get('clusters_per_stream', 0):,} clusters each"
        ts, bs = get(t, "initial_sync", "seconds"), get(b, "initial_sync", "seconds")
        if not get(t, "initial_sync", "all_synced"):
            ts = "incomplete"
        r = ts / bs if isinstance(ts, float) and bs else None
        rows.append((sc, "time to sync all streams, s", fmt(ts, digits=2), fmt(bs, digits=2), ratio(ts, bs),
                     "≤ 1.1× bare", verdict(r, 1.1)))
        rows.append((sc, "bytes received (all streams), MB", fmt((get(t, "initial_sync", "bytes") or 0) / 1e6),
                     fmt((get(b, "initial_sync", "bytes") or 0) / 1e6) if b else "—", "", "", ""))
        tcpu, bcpu = get(t, "server", "cpu_s_initial_sync"), get(b, "server", "cpu_s_initial_sync")
        rows.append((sc, "server CPU for the sync, s", fmt(tcpu, digits=2), fmt(bcpu, digits=2), ratio(tcpu, bcpu),
                     "", ""))
        rows.append((sc, "load generator CPU, s", fmt(get(t, "loadgen", "cpu_s"), digits=2),
                     fmt(get(b, "loadgen", "cpu_s"), digits=2), "", "", ""))

    t = load(os.path.join(a.out, "restart-storm", "tern.json"))
    if t and t.get("restart"):
        r = t["restart"]
        n = t["streams"]
        sc = (f"restart storm: tern killed and restarted with {n:,} SotW streams "
              f"({t.get('clusters_per_stream', 0):,} clusters each) reconnecting at once")
        first = get(t, "initial_sync", "seconds")
        again = r.get("kill_to_all_synced_s") if r.get("all_synced") else "incomplete"
        rows.append((sc, "time to sync all streams: initial / after the restart (from the kill), s",
                     f"{fmt(first, digits=2)} / {fmt(again, digits=2)}", "", ratio(again, first), "", ""))
        rows.append((sc, "restarted tern ready (from the kill) / all streams in sync (from ready), s",
                     f"{fmt(r.get('kill_to_ready_s'), digits=2)} / {fmt(r.get('ready_to_all_synced_s'), digits=2)}",
                     "", "", "", ""))
        old, new = r.get("old_server_peak_rss_kib"), r.get("new_server_peak_rss_kib")
        rows.append((sc, "tern peak RSS (VmHWM): first start + initial sync / restart + storm, MB",
                     f"{fmt(old / 1024 if old else None)} / {fmt(new / 1024 if new else None)}", "",
                     ratio(new, old), "", ""))

    micro = load(os.path.join(a.out, "micro.json"))
    mrows = []
    if micro:
        for bm in micro.get("benchmarks", []):
            name = bm["name"].split("/iterations")[0]
            ms = bm["real_time"] if bm.get("time_unit") == "ms" else bm["real_time"] / 1e6
            mrows.append((name, ms))
        lookup = dict(mrows)
        tf = lookup.get("BM_TranslateFull/10000")
        rows.append(("full translate, 10k services × 10 instances (100k endpoints)", "translate::Translate, ms",
                     fmt(tf), "", "", "≤ 500 ms", verdict(tf, 500)))
        tc = lookup.get("BM_TranslateAfterOneInstanceChange/10000")
        rows.append(("translate after one instance change, 10k/100k world", "ms (warm IncrementalTranslator)",
                     fmt(tc, digits=3), "", "", "≤ 1 ms", verdict(tc, 1)))
        rb = lookup.get("BM_SnapshotRebuildAfterOneInstanceChange/10000")
        rb1 = lookup.get("BM_SnapshotRebuildAfterOneInstanceChange/1000")
        rows.append(("snapshot rebuild after one instance change, 10k/100k world",
                     "SnapshotBuilder::Build (validate+translate+serialize+hash+PGV+derive), ms", fmt(rb, digits=3), "",
                     "", "≤ 2 ms", verdict(rb, 2)))
        rows.append(("snapshot rebuild after one instance change, 10k/100k world",
                     "the same, as a multiple of the 1k/10k figure", ratio(rb, rb1), "", "", "≤ 1.5×",
                     verdict(rb / rb1 if rb is not None and rb1 else None, 1.5)))
    vhds = {}
    try:
        with open(os.path.join(a.out, "vhds.jsonl")) as f:
            for line in f:
                j = json.loads(line)
                if j.get("mode") == "inline":
                    vhds["inline_bytes"], vhds["hosts"] = j.get("change_bytes"), j.get("hosts")
                elif j.get("mode") == "on_demand":
                    vhds["vhds_bytes"] = j.get("change_bytes")
    except (OSError, ValueError):
        vhds = {}
    if vhds:
        inl, onv = vhds.get("inline_bytes"), vhds.get("vhds_bytes")
        rows.append((f"one host added to a gateway with {vhds.get('hosts', 0):,} hosts",
                     "bytes sent per change: VHDS / inline RDS", f"{fmt(onv, digits=0)} / {fmt(inl, digits=0)}", "",
                     ratio(onv, inl), "≤ 0.01×", verdict(onv / inl if onv is not None and inl else None, 0.01)))

    lines = []
    lines.append("# Performance\n")
    lines.append("Generated by `make bench` (bench/run.sh → bench/report.py) on "
                 f"{datetime.date.today().isoformat()}; hand-written analysis follows the tables "
                 "(from bench/performance_notes.md).\n")
    lines.append(f"**Machine:** {os.cpu_count()} CPUs (nproc), {cpu_model()}, Linux {platform.release()}. "
                 "The machine was shared with other developers' builds while this ran, so absolute "
                 "figures are noisy; tern and the bare baseline ran back to back on the same inputs. "
                 f"Whole run: {a.seconds} s.\n")
    lines.append("**Bare baseline** (`build/tern-bare-xds`): a bare gRPC C++ callback-API ADS server that "
                 "replays, byte for byte, the responses tern sent in the same run (recorded by "
                 "`tern-loadgen --record`), to the same streams from the same load generator; a change is "
                 "a SIGUSR1 instead of the source change. The flips are measured twice: through a real "
                 "Consul (a catalog write, seen by tern's blocking queries: the production path) and "
                 "through the file source (**its convergence includes the 200 ms polling and the YAML "
                 "decode**); the fan-out rows isolate the push itself.\n")
    bdate = before.get("date", "?") if before else None
    if before:
        lines.append(f"**Before / after.** The *before* columns are the figures of the run of {bdate} "
                     f"(`{a.before and os.path.relpath(a.before, os.path.dirname(os.path.dirname(os.path.abspath(a.doc))))}`: "
                     f"{before.get('note', '')}); targets are issue 8's.\n")
        lines.append(f"| scenario | figure | tern | bare baseline | ratio | before: tern ({bdate}) | before: ratio | target | verdict |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    else:
        lines.append("| scenario | figure | tern | bare baseline | ratio | target | verdict |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        cells = list(r)
        if before:
            old = before.get("rows", {}).get(f"{r[0]}|{r[1]}", {})
            cells = cells[:5] + [old.get("tern", "—"), old.get("ratio", "") or ""] + cells[5:]
        lines.append("| " + " | ".join(str(x) for x in cells) + " |")
    if mrows:
        lines.append("\n## Microbenchmarks (Google Benchmark, `build/tern-micro-bench`)\n")
        lines.append("Argument = number of services (10 instances each; one gateway per 1,000 services).\n")
        if before:
            lines.append(f"| benchmark | ms per iteration | before ({bdate}) |")
            lines.append("| --- | --- | --- |")
        else:
            lines.append("| benchmark | ms per iteration |")
            lines.append("| --- | --- |")
        for name, ms in mrows:
            digits = 3 if ms < 10 else 1
            if before:
                lines.append(f"| {name} | {ms:,.{digits}f} | {before.get('micro', {}).get(name, '—')} |")
            else:
                lines.append(f"| {name} | {ms:,.{digits}f} |")
    lines.append("")
    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as f:
            lines.append(f.read())
    with open(a.doc, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
