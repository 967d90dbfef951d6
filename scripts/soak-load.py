#!/usr/bin/env python3
"""Sustained Ceilometer-shape load for a fixed time, with request bodies made while sending.

The kit's `ingest` workload prepares every body before the first request, so its length is
bounded by the generator's memory (8.5 GB of JSON for 130 M measures). This feeds the same
resources of a kit state file for --seconds instead: a second process builds the bodies a
chunk at a time (--chunk measures per metric) and hands them over a bounded queue, so the
generator stays small however long the load lasts. Each metric's measures go out in
timestamp order, and only whole chunks are sent, so every metric ends with the same count.
The state file is updated as the kit's `ingest` would, so the kit's `process` workload can
then wait for the drain and verify the stored points.

Run with the kit's Python (it imports gbench.py from --kit for its HTTP and sampling helpers):
  soak-load.py --kit DIR --state STATE --seconds 600 [--json OUT]
"""
import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import queue
import random
import sys
import time


def value_streams(st, metrics, seed):
    """One generator per metric continuing its series: gauges walk, counters grow, consts stay."""

    def stream(gi, kind):
        rng = random.Random(seed * 1000003 + gi)
        if kind == "gauge":
            v = rng.uniform(256, 3500)
            while True:
                v = min(4096.0, max(0.0, v + rng.gauss(0, 25)))
                yield "%.2f" % v
        elif kind == "counter":
            c, r = rng.randrange(10 ** 9, 10 ** 12), rng.uniform(1e3, 1e6)
            while True:
                r = max(0.0, r + rng.gauss(0, r * 0.05 + 10))
                c += int(r * st["interval"])
                yield "%d" % c
        else:
            v = "%d" % rng.choice([1, 2, 4, 8, 20, 40, 512, 1024, 2048, 4096, 8192])
            while True:
                yield v

    return [stream(m["gi"], m["kind"]) for m in metrics]


def produce(st, metrics, groups, args, start, out, stop):
    """Put ("round", row) for each round of each chunk, then ("end", chunk), until told to stop."""
    out.cancel_join_thread()
    gbench = load_gbench(args.kit)
    base = dt.datetime.fromisoformat(st["base_time"].replace("Z", "+00:00")).timestamp()
    streams = value_streams(st, metrics, args.seed)
    prefixes = ['"%s":{"archive_policy_name":"%s","unit":"%s","measures":' % (m["name"], m["policy"], m["unit"])
                for m in metrics]
    k = args.per_request
    chunk = 0
    while not stop.is_set():
        first = start + chunk * args.chunk
        for r in range(args.chunk // k):
            stamps = [gbench.iso(base + (first + r * k + i) * st["interval"]) for i in range(k)]
            row = []
            for g in groups:
                by_res = {}
                for idx in g:
                    vals = streams[idx]
                    items = ",".join('{"timestamp":"%s","value":%s}' % (s, next(vals)) for s in stamps)
                    by_res.setdefault(metrics[idx]["rid"], []).append(prefixes[idx] + "[" + items + "]}")
                body = "{" + ",".join('"%s":{%s}' % (rid, ",".join(v)) for rid, v in by_res.items()) + "}"
                row.append((body.encode(), k * len(g)))
            if not put(out, ("round", row), stop):
                return
        if not put(out, ("end", chunk), stop):
            return
        chunk += 1


def put(q, item, stop):
    while not stop.is_set():
        try:
            q.put(item, timeout=0.5)
            return True
        except queue.Full:
            pass
    return False


def take(rounds, producer):
    """The next item the producer made; exits if the producer died."""
    while True:
        try:
            return rounds.get(timeout=1)
        except queue.Empty:
            if not producer.is_alive():
                sys.exit("soak-load: the body producer exited (code %s)" % producer.exitcode)


def load_gbench(kit):
    sys.path.insert(0, kit)
    import gbench
    return gbench


def select_metrics(gbench, st, metrics_per_request):
    """The state's metrics in order, and the requests' groups of them: whole resources each."""
    units = {n: u for n, u, _ in gbench.metric_catalogue(len(st["metric_names"]))}
    kinds = {n: kd for n, _, kd in gbench.metric_catalogue(len(st["metric_names"]))}
    metrics = []
    for ri, r in enumerate(st["resources"]):
        for mi, (name, mid, pol, _) in enumerate(r["metrics"]):
            metrics.append({"rid": r["id"], "name": name, "mid": mid, "policy": pol, "unit": units[name],
                            "kind": kinds[name], "gi": ri * len(st["metric_names"]) + mi})
    per_res = len(st["metric_names"])
    size = max(1, metrics_per_request // per_res) * per_res
    groups = [list(range(i, min(len(metrics), i + size))) for i in range(0, len(metrics), size)]
    return metrics, groups


async def send(args, gbench, st, metrics, groups):
    starts = {st["ingested"].get(m["mid"], [None, 0])[1] for m in metrics}
    if len(starts) != 1:
        sys.exit("soak-load: the state's metrics hold different numbers of measures: %s" % sorted(starts))
    start = starts.pop()
    ctx = mp.get_context("fork")
    rounds, stop = ctx.Queue(maxsize=args.queued_rounds), ctx.Event()
    producer = ctx.Process(target=produce, args=(st, metrics, groups, args, start, rounds, stop), daemon=True)
    producer.start()
    path = "/v1/batch/resources/metrics/measures?create_metrics=true"
    lat, errors, accepted, per_second = [], [], [0], {}
    conc = min(args.concurrency, len(groups))
    lanes = [asyncio.Queue(maxsize=2 * len(groups) // conc + 1) for _ in range(conc)]
    sampler = gbench.Sampler(gbench.parse_procs(args.procs)).start()
    loop = asyncio.get_running_loop()
    async with gbench.Http(args, conc) as h:

        async def lane(q):
            # a lane owns the groups g = lane (mod conc), so a metric's rounds stay in order
            while (item := await q.get()) is not None:
                body, n = item
                code, data, sec = await h.req("POST", path, body)
                lat.append(sec)
                if code == 202:
                    accepted[0] += n
                    sec_i = int(time.monotonic() - t0)
                    per_second[sec_i] = per_second.get(sec_i, 0) + n
                else:
                    errors.append("%s %s" % (code, data[:300].decode(errors="replace")))

        t_first, t0 = time.time(), time.monotonic()
        workers = [asyncio.ensure_future(lane(q)) for q in lanes]
        chunks = 0
        while True:
            kind, payload = await loop.run_in_executor(None, take, rounds, producer)
            if kind == "end":
                chunks += 1
                if time.monotonic() - t0 >= args.seconds:
                    break
                continue
            for g, item in enumerate(payload):
                await lanes[g % conc].put(item)
        stop.set()
        for q in lanes:
            await q.put(None)
        await asyncio.gather(*workers)
        elapsed, t_last = time.monotonic() - t0, time.time()
    producer.join(5)
    if producer.is_alive():
        producer.terminate()
    usage = sampler.stop()
    sent = chunks * args.chunk
    for m in metrics:
        st["ingested"][m["mid"]] = [m["policy"], start + sent]
    st["last_ingest"] = {"t_first_post": t_first, "t_last_response": t_last, "measures": accepted[0],
                         "requests": len(lat), "per_request": args.per_request, "endpoint": "resources"}
    gbench.save_state(args.state, st)
    minutes = {}
    for s, n in per_second.items():
        minutes[s // 60] = minutes.get(s // 60, 0) + n
    res = {"params": {"metrics": len(metrics), "seconds": args.seconds, "chunk": args.chunk,
                      "per_request": args.per_request, "concurrency": conc, "start_index": start},
           "measures_per_metric": sent, "requests": len(lat), "measures_accepted": accepted[0],
           "errors": len(errors), "first_errors": errors[:3], "elapsed_s": round(elapsed, 3),
           "measures_per_s": round(accepted[0] / elapsed, 1),
           "measures_per_s_by_minute": [round(minutes.get(i, 0) / min(60.0, elapsed - 60 * i), 1)
                                         for i in range(int(elapsed // 60) + 1) if elapsed - 60 * i >= 1],
           "latency": gbench.lat_summary(lat), "usage": usage}
    gbench.emit(args, "soak-ingest", "measures=%d (%d per metric) requests=%d conc=%d in %.1fs: %.0f measures/s "
                "p50=%sms p99=%sms errors=%d; measures/s by minute: %s" % (
                    accepted[0], sent, len(lat), conc, elapsed, res["measures_per_s"], res["latency"]["p50_ms"],
                    res["latency"]["p99_ms"], len(errors),
                    " ".join("%.0f" % v for v in res["measures_per_s_by_minute"])), res)
    return 1 if errors or accepted[0] != sent * len(metrics) else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kit", required=True, help="the benchmark kit's folder (gbench.py)")
    p.add_argument("--url", default=os.environ.get("GBENCH_URL", "http://127.0.0.1:8041"))
    p.add_argument("--user", default=os.environ.get("GBENCH_USER", "admin"))
    p.add_argument("--password", default=os.environ.get("GBENCH_PASSWORD", ""))
    p.add_argument("--state", required=True, help="the kit's state file, after its setup workload")
    p.add_argument("--json", help="write the result document here")
    p.add_argument("--label", default="gnocchi-rs")
    p.add_argument("--procs", default=os.environ.get("GBENCH_PROCS", ""))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--seconds", type=float, default=600, help="send whole chunks until this much time passed")
    p.add_argument("--chunk", type=int, default=100, help="measures per metric made at a time")
    p.add_argument("--per-request", "-K", type=int, default=10, help="measures per metric per request")
    p.add_argument("--metrics-per-request", type=int, default=100, help="rounded to whole resources")
    p.add_argument("--concurrency", "-C", type=int, default=4)
    p.add_argument("--queued-rounds", type=int, default=8, help="rounds made ahead of the sender")
    args = p.parse_args()
    if args.chunk % args.per_request:
        sys.exit("soak-load: --chunk must be a multiple of --per-request")
    gbench = load_gbench(args.kit)
    st = gbench.load_state(args.state)
    metrics, groups = select_metrics(gbench, st, args.metrics_per_request)
    return asyncio.run(send(args, gbench, st, metrics, groups))


if __name__ == "__main__":
    sys.exit(main())
