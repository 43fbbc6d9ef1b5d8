"""ipmi_sim chassis_control program of the netboot.fleet lab: the BMC's power button is a qemu VM.

Called by OpenIPMI's ipmi_sim (lan.conf: chassis_control "<this> <machine dir>") as

    chassis_control.py DIR get power boot      -> prints "power:0|1" and "boot:<device>"
    chassis_control.py DIR set KEY VALUE ...   (power 0|1, reset 1, shutdown 1, boot pxe|default|..., identify ...)

DIR holds vm.json (written by lab/netboot_lab.py: the qemu argv, and the tap and namespace of its NIC), and this program
keeps qemu.pid ("<pid> <start time>"), boot (the requested boot device) and power.log ("<epoch> on|off"
per real transition: the ground truth of when a machine was powered on) there.

It must return within milliseconds: ipmi_sim waits for it and retransmits answers to slow requests,
so qemu is started detached (not with -daemonize, which returns only once the VM is set up), and a
request that finds the VM already in the wanted state changes nothing.
"""

import ctypes
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import time

STOP_TIMEOUT = 5.0
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def open_tap(netns, name):
    """A file descriptor of tap `name` of namespace `netns`, for qemu's -netdev tap,fd=N.

    qemu itself runs in the host's namespace, so that its serial console (a TCP server on
    127.0.0.1) is reachable by the BMC simulator's Serial-over-LAN; only its NIC is in the lab.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/%s" % netns, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(%s)" % netns)
        tap = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        return tap
    finally:
        libc.setns(own, CLONE_NEWNET)
        os.close(target)
        os.close(own)


def process_start_time(pid):
    """Field 22 of /proc/<pid>/stat (tells a PID apart from a later process that reuses it); None if gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


class Machine:
    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "vm.json")) as spec:
            self.spec = json.load(spec)

    def path(self, name):
        return os.path.join(self.dir, name)

    def pid(self):
        """The running qemu's PID, or None."""
        try:
            with open(self.path("qemu.pid")) as pidfile:
                pid, started = pidfile.read().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        return pid if process_start_time(pid) == started else None

    def log_power(self, state):
        with open(self.path("power.log"), "a") as log:
            log.write("%.3f %s\n" % (time.time(), state))

    def boot_device(self):
        try:
            with open(self.path("boot")) as boot:
                return boot.read().strip() or "default"
        except OSError:
            return "default"

    def boot_order(self, argv):
        """The VM boots its disk first (bootindex=1, the NIC 2), unless the BMC's boot device says network."""
        if self.boot_device() not in ("pxe", "network"):
            return argv
        swap = {"bootindex=1": "bootindex=2", "bootindex=2": "bootindex=1"}
        return [",".join(swap.get(part, part) for part in arg.split(",")) for arg in argv]

    def power_on(self):
        if self.pid():
            return
        argv, fds = self.boot_order(self.spec["argv"]), ()
        if self.spec.get("tap"):
            fds = (open_tap(self.spec["netns"], self.spec["tap"]),)
            argv = [arg.replace("{tap_fd}", str(fds[0])) for arg in argv]
        with open(self.path("qemu.log"), "ab") as log:
            # A new session so that ipmi_sim (and this program's exit) do not take the VM down with them.
            qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                                    start_new_session=True, close_fds=True, pass_fds=fds)
        for fd in fds:
            os.close(fd)
        with open(self.path("qemu.pid.tmp"), "w") as pidfile:
            pidfile.write("%d %s\n" % (qemu.pid, process_start_time(qemu.pid)))
        os.replace(self.path("qemu.pid.tmp"), self.path("qemu.pid"))
        self.log_power("on")

    def power_off(self):
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and self.pid() == pid:
            time.sleep(0.02)
        if self.pid() == pid:
            os.kill(pid, signal.SIGKILL)
        os.unlink(self.path("qemu.pid"))
        self.log_power("off")


def main(argv):
    directory, operation, args = argv[1], argv[2], argv[3:]
    machine = Machine(directory)
    with open(machine.path("calls.log"), "a") as calls:
        calls.write("%.3f %s %s\n" % (time.time(), operation, " ".join(args)))
    if operation == "get":
        for what in args:
            if what == "power":
                print("power:%d" % (1 if machine.pid() else 0))
            elif what == "boot":
                print("boot:%s" % machine.boot_device())
        return 0
    for key, value in zip(args[0::2], args[1::2]):
        if key == "power":
            if value == "1":
                machine.power_on()
            else:
                machine.power_off()
        elif key == "reset":
            machine.power_off()
            machine.power_on()
        elif key == "shutdown":
            machine.power_off()
        elif key == "boot":
            with open(machine.path("boot"), "w") as boot:
                boot.write(value + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
