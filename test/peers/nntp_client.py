#!/usr/bin/env python3
"""A real newsreader for the nntp tests: Python's stdlib nntplib (3.11; deprecated,
removed in 3.13 -- the warning is silenced here).

Usage: nntp_client.py PORT [reader|ssl:CAFILE] < ops.json   (127.0.0.1 only; "reader" sends
MODE READER first; "ssl:CAFILE" connects with TLS, verified against CAFILE)
ops.json is a list of operations, run in order on one connection; prints one JSON
list with a result per operation: {"ok": true, "value": ...} or
{"ok": false, "code": "441", "error": "..."}.

Operations: ["welcome"], ["caps"], ["list"], ["descriptions", "wildmat"],
["group", name], ["over", "1-"], ["article", "3" | "<id>"], ["head", ...],
["body", ...], ["stat", ...], ["next"], ["last"], ["post", text],
["newnews", group, "yyyymmdd hhmmss"], ["login", user, password],
["hdr", field, range], ["xpat", field, range, pattern...] (XPAT, RFC 2980: [response, lines]), ["date"], ["starttls", cafile], ["tlsversion"], ["raw", line] (a raw command line, the response
line back).
"""
import io, json, ssl, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
import nntplib  # noqa: E402
import datetime  # noqa: E402


def lines(info):
    return [l.decode("utf-8", "surrogateescape") for l in info.lines]


def run(s, op):
    kind, args = op[0], op[1:]
    if kind == "welcome":
        return s.getwelcome()
    if kind == "caps":
        return {k: v for k, v in s.getcapabilities().items()}
    if kind == "list":
        resp, groups = s.list()
        return [[g.group, g.last, g.first, g.flag] for g in groups]
    if kind == "descriptions":
        return s.descriptions(args[0])
    if kind == "group":
        resp, count, first, last, name = s.group(args[0])
        return [resp, count, first, last, name]
    if kind == "over":
        resp, overviews = s.over(args[0])
        return [[n, dict(o)] for n, o in overviews]
    if kind in ("article", "head", "body"):
        resp, info = getattr(s, kind)(args[0])
        return {"resp": resp, "number": info.number, "id": info.message_id, "lines": lines(info)}
    if kind == "stat":
        return list(s.stat(args[0]))
    if kind == "next":
        return list(s.next())
    if kind == "last":
        return list(s.last())
    if kind == "post":
        return s.post(io.BytesIO(args[0].encode("utf-8")))
    if kind == "ihave":
        return s.ihave(args[0], io.BytesIO(args[1].encode("utf-8")))
    if kind == "newnews":
        resp, ids = s.newnews(args[0], datetime.datetime.strptime(args[1], "%Y%m%d %H%M%S"))
        return ids
    if kind == "login":
        s.login(args[0], args[1], usenetrc=False)
        return s.getcapabilities().get("POST") is not None
    if kind == "hdr":
        resp, rows = s.xhdr(args[0], args[1])
        return rows
    if kind == "xpat":
        resp, rows = s._longcmdstring("XPAT %s %s %s" % (args[0], args[1], " ".join(args[2:])))
        return [resp, rows]
    if kind == "date":
        return s.date()[1].strftime("%Y%m%d%H%M%S")
    if kind == "starttls":
        s.starttls(ssl.create_default_context(cafile=args[0]))
        return s.sock.version()
    if kind == "tlsversion":
        return s.sock.version() if hasattr(s.sock, "version") else None
    if kind == "raw":
        return s._shortcmd(args[0])
    raise ValueError("unknown op " + kind)


def main():
    port = int(sys.argv[1])
    ops = json.load(sys.stdin)
    out = []
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    if mode.startswith("ssl:"):
        # Implicit TLS, verified against the CA file given after "ssl:".
        s = nntplib.NNTP_SSL("127.0.0.1", port, ssl_context=ssl.create_default_context(cafile=mode[4:]), readermode=False, timeout=10)
    else:
        s = nntplib.NNTP("127.0.0.1", port, readermode=mode == "reader", timeout=10)
    try:
        for op in ops:
            try:
                out.append({"ok": True, "value": run(s, op)})
            except nntplib.NNTPError as e:
                msg = str(e.response if hasattr(e, "response") else e)
                out.append({"ok": False, "code": msg[:3], "error": msg})
            except Exception as e:  # a client-side failure: report it, keep the list aligned
                out.append({"ok": False, "code": "client", "error": repr(e)})
                break
        try:
            s.quit()
        except Exception:
            pass
    finally:
        print(json.dumps(out, default=str))


main()
