#!/usr/bin/perl
# Imports an mboxrd file (standard input) into a public-inbox v2 inbox through
# public-inbox's own library: InboxWritable's import_mbox, which writes each message
# to git (fast-import) and indexes it (SQLite overview, Xapian shards) as it goes.
# Used by bench/archive.ts. Usage: PI_CONFIG=... perl public-inbox-import.pl NAME <MBOX
use strict;
use warnings;
use PublicInbox::Config;
use PublicInbox::InboxWritable;
my $name = shift or die "usage: $0 INBOX_NAME <MBOX\n";
my $ibx = PublicInbox::Config->new->lookup_name($name) or die "no inbox named $name in \$PI_CONFIG\n";
PublicInbox::InboxWritable->new($ibx)->import_mbox(\*STDIN, 'mboxrd');
