#!/usr/bin/env python3
"""Load for bench/nntp.ts: the same client (Python's stdlib nntplib) against any
news server on 127.0.0.1. Prints one JSON object.

  nntp_load.py post    PORT GROUP N CLIENTS TAG   -> {"seconds": s, "posted": n}
  nntp_load.py over    PORT GROUP LOW HIGH RUNS   -> {"seconds": [s, ...], "rows": n}
  nntp_load.py article PORT GROUP N CLIENTS       -> {"seconds": s, "articles": n}

post: N articles split over CLIENTS connections (threads), each waits for its 240.
over: GROUP, then OVER LOW-HIGH, RUNS times on one connection; the time of each OVER.
article: each of CLIENTS connections selects the group and fetches N articles by
number (random numbers between the group's low and high), one after the other.
"""
import io, json, random, sys, threading, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)
import nntplib  # noqa: E402

BODY = ("This is a benchmark article with a few lines of ordinary text.\r\n"
        "It stands in for a short reply on a mailing list or a newsgroup,\r\n"
        "about as long as most of them are, with a quoted line below.\r\n"
        "> quoted text from the article it answers\r\n") * 2


def connect(port):
    return nntplib.NNTP("127.0.0.1", port, readermode=True, timeout=60)


def run_threads(clients, fn):
    errors = []
    def wrap(i):
        try:
            fn(i)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    if errors:
        raise SystemExit("errors: " + "; ".join(errors[:5]))
    return time.perf_counter() - t0


def post(port, group, n, clients, tag):
    per = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
    conns = [connect(port) for _ in range(clients)]
    def work(i):
        s = conns[i]
        for k in range(per[i]):
            art = (f"From: Bench {i} <bench{i}@bench.example>\r\nNewsgroups: {group}\r\n"
                   f"Subject: bench article {tag}.{i}.{k}\r\nMessage-ID: <{tag}.{i}.{k}@bench.example>\r\n\r\n{BODY}")
            s.post(io.BytesIO(art.encode()))
    secs = run_threads(clients, work)
    for s in conns: s.quit()
    return {"seconds": secs, "posted": n}


def over(port, group, low, high, runs):
    s = connect(port)
    out, rows = [], 0
    for _ in range(runs):
        s.group(group)
        t0 = time.perf_counter()
        _, ov = s.over((low, high))
        out.append(time.perf_counter() - t0)
        rows = len(ov)
    s.quit()
    return {"seconds": out, "rows": rows}


def article(port, group, n, clients):
    conns = [connect(port) for _ in range(clients)]
    ranges = []
    for s in conns:
        _, count, low, high, _ = s.group(group)
        ranges.append((low, high))
    def work(i):
        s = conns[i]
        low, high = ranges[i]
        rnd = random.Random(i)
        for _ in range(n):
            s.article(str(rnd.randint(low, high)))
    secs = run_threads(clients, work)
    for s in conns: s.quit()
    return {"seconds": secs, "articles": n * clients}


def main():
    cmd, port, group = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    a = sys.argv[4:]
    if cmd == "post": r = post(port, group, int(a[0]), int(a[1]), a[2])
    elif cmd == "over": r = over(port, group, int(a[0]), int(a[1]), int(a[2]))
    elif cmd == "article": r = article(port, group, int(a[0]), int(a[1]))
    else: raise SystemExit("unknown command " + cmd)
    print(json.dumps(r))


main()
