#!/usr/bin/python3
"""An SMTP sink on 127.0.0.1 for the mail plugin's sending tests: aiosmtpd
(Debian package python3-aiosmtpd; run it with Debian's /usr/bin/python3)
storing every message in a Maildir, with answers a test controls.

  smtp_maildir.py DIR [--tls CERT KEY | --implicit-tls CERT KEY] [--auth USER:PASS] [--port N]

Listens on an ephemeral port (or N: a smarthost that comes up where peerpost
already looks for it) and prints it as the first line of stdout.
Every accepted transaction becomes one file in DIR/Maildir/new, with the
envelope prepended as X-MailFrom: and X-RcptTo: (comma-separated), and one JSON
line {"from":..., "to":[...]} in DIR/transactions.log; every connection a line
in DIR/connections.log.

DIR/rules.json (read at every RCPT, so a test can change it while running):
  {"tempfail": {"carol@example.net": 2},   # 451 4.7.1 for the first 2 RCPTs of carol
   "reject": ["dave@example.org"],          # 550 5.1.1 always
   "maxRecipients": 3}                      # 452 4.5.3 past 3 recipients in one transaction
--tls: STARTTLS offered and required; --implicit-tls: TLS from the first byte;
--auth: AUTH PLAIN/LOGIN required (after STARTTLS when --tls).
"""
import asyncio
import json
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base = args[0]
    tls = None
    implicit = None
    auth = None
    port = 0
    i = 1
    while i < len(args):
        if args[i] == '--tls':
            tls = (args[i + 1], args[i + 2])
            i += 3
        elif args[i] == '--implicit-tls':
            implicit = (args[i + 1], args[i + 2])
            i += 3
        elif args[i] == '--auth':
            auth = args[i + 1].split(':', 1)
            i += 2
        elif args[i] == '--port':
            port = int(args[i + 1])
            i += 2
        else:
            print('unknown option ' + args[i], file=sys.stderr)
            sys.exit(2)
    maildir = os.path.join(base, 'Maildir')
    for sub in ('new', 'cur', 'tmp'):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    rules_path = os.path.join(base, 'rules.json')
    log_path = os.path.join(base, 'transactions.log')
    conn_path = os.path.join(base, 'connections.log')
    seen = {}
    counter = [0]

    def rules():
        try:
            with open(rules_path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            r = rules()
            a = address.lower()
            if a in [x.lower() for x in r.get('reject', [])]:
                return '550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table' % address
            want = {k.lower(): v for k, v in r.get('tempfail', {}).items()}.get(a, 0)
            if seen.get(a, 0) < want:
                seen[a] = seen.get(a, 0) + 1
                return '451 4.7.1 <%s>: Recipient address rejected: Greylisted, try again later' % address
            limit = r.get('maxRecipients')
            if limit is not None and len(envelope.rcpt_tos) >= limit:
                return '452 4.5.3 Error: too many recipients'
            envelope.rcpt_tos.append(address)
            return '250 2.1.5 Ok'

        async def handle_DATA(self, server, session, envelope):
            counter[0] += 1
            name = '%d.%d_%d.sink' % (int(time.time()), os.getpid(), counter[0])
            head = 'X-MailFrom: %s\r\nX-RcptTo: %s\r\n' % (envelope.mail_from, ','.join(envelope.rcpt_tos))
            data = envelope.original_content if envelope.original_content is not None else envelope.content
            tmp = os.path.join(maildir, 'tmp', name)
            with open(tmp, 'wb') as f:
                f.write(head.encode('ascii', 'replace'))
                f.write(data)
            os.rename(tmp, os.path.join(maildir, 'new', name))
            with open(log_path, 'a') as f:
                f.write(json.dumps({'from': envelope.mail_from, 'to': envelope.rcpt_tos}) + '\n')
            return '250 2.0.0 Ok: queued as %s' % name

    def authenticator(server, session, envelope, mechanism, data):
        if isinstance(data, LoginPassword) and auth and data.login.decode() == auth[0] and data.password.decode() == auth[1]:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    kwargs = {'hostname': 'sink.test.local', 'decode_data': False, 'data_size_limit': 50 * 1024 * 1024}
    if tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls[0], tls[1])
        kwargs.update(tls_context=ctx, require_starttls=True)
    if auth:
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(tls or implicit))
    server_ssl = None
    if implicit:
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(implicit[0], implicit[1])

    class CountingSMTP(SMTP):
        def connection_made(self, transport):
            with open(conn_path, 'a') as f:
                f.write('%s\n' % (transport.get_extra_info('peername'),))
            super().connection_made(transport)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler()
    server = loop.run_until_complete(loop.create_server(lambda: CountingSMTP(handler, **kwargs), '127.0.0.1', port, ssl=server_ssl))
    print(server.sockets[0].getsockname()[1], flush=True)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
