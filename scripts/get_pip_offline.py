"""Offline stand-in for ansible-test's get-pip bootstrap, whose download host is unreachable here.

ansible-test runs it with get-pip's arguments, e.g. "pip==24.2 --no-setuptools --no-wheel".
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade"] + args))
