# -*- coding: utf-8 -*-
"""A minimal syslog daemon for the bring-up lab: datagrams on a unix socket -> an RFC 3339 file, as rsyslog writes.

    python syslog_sink.py SOCKET FILE
"""

import os
import re
import socket
import sys
from datetime import datetime, timezone

# "<29>Nov 26 15:07:59 in.tftpd[19491]: RRQ from ..." -> "in.tftpd[19491]: RRQ from ..."
_HEADER_RE = re.compile(r"^<\d+>(?:\w{3} [ \d]\d \d{2}:\d{2}:\d{2} )?")


def main():
    socket_path, file_path = sys.argv[1:3]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sink, open(file_path, "a", buffering=1, encoding="utf-8") as out:
        sink.bind(socket_path)
        os.chmod(socket_path, 0o666)  # in.tftpd logs after dropping to the tftp user
        while True:
            message = _HEADER_RE.sub("", sink.recv(8192).decode("utf-8", "replace")).rstrip("\n")
            out.write("%s lab %s\n" % (datetime.now(timezone.utc).isoformat(timespec="microseconds"), message))


if __name__ == "__main__":
    main()
