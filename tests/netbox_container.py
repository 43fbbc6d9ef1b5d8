"""A real NetBox for the tests and the benchmark: the image of tests/images/netbox/build.sh in a podman container.

    with NetBoxContainer("nbx-test", http_port=22080, redis_port=22379) as netbox:
        netbox.url, netbox.token   # the token is read from a 0600 file, never printed

The container shares the host's network (loopback only: NetBox and Redis bind 127.0.0.1, PostgreSQL has no
TCP port); it restores the pre-migrated database dump and makes an API token at start, and is removed by
its container id.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

import requests

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_DIR = os.path.join(REPO, "tests", "images", "netbox")
PODMAN_ENV = os.path.join(REPO, "tests", "images", "podman-env.sh")
STATE_ROOT = os.environ.get("NBF_WORK", "/var/tmp/netboot-fleet")


def podman_environment() -> dict:
    """The environment tests/images/podman-env.sh sets (the project's podman storage and configuration)."""
    out = subprocess.run(["bash", "-c", ". %s && env -0" % PODMAN_ENV], check=True, capture_output=True,
                         text=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def image() -> str:
    with open(os.path.join(IMAGE_DIR, "VERSION"), encoding="utf-8") as handle:
        return "localhost/nbx-netbox-debian13:%s" % handle.read().strip()


def build_image() -> None:
    """Builds the image unless the cached one is current (tests/images/netbox/build.sh)."""
    subprocess.run(["bash", os.path.join(IMAGE_DIR, "build.sh")], check=True)


class NetBoxContainer:
    def __init__(self, name: str, http_port: int, redis_port: int, start_timeout: float = 600, dump: str = None):
        self.name = name
        self.dump = dump  # a database dump to restore instead of the empty pre-migrated one
        self.http_port = http_port
        self.redis_port = redis_port
        self.start_timeout = start_timeout
        self.url = "http://127.0.0.1:%d" % http_port
        self.env = podman_environment()
        self.container_id = None
        os.makedirs(STATE_ROOT, exist_ok=True)
        self.state = tempfile.mkdtemp(prefix=name + "-", dir=STATE_ROOT)  # 0700
        self.start_seconds = None

    @property
    def token(self) -> str:
        with open(os.path.join(self.state, "token"), encoding="utf-8") as handle:
            return handle.read().strip()

    @property
    def access_log(self) -> str:
        return os.path.join(self.state, "access.log")

    def requests_served(self) -> int:
        """How many HTTP requests NetBox has answered so far (its access log)."""
        try:
            with open(self.access_log, "rb") as handle:
                return sum(1 for _line in handle)
        except FileNotFoundError:
            return 0

    def podman(self, *args, check=True):
        return subprocess.run(["podman", *args], env=self.env, check=check, capture_output=True, text=True)

    def start(self) -> "NetBoxContainer":
        started = time.monotonic()
        self.podman("rm", "-f", "--ignore", self.name)
        dump = []
        if self.dump:
            dump = ["-v", "%s:/nbx-dump/netbox.dump:ro" % os.path.abspath(self.dump), "-e", "NBX_DUMP=/nbx-dump/netbox.dump"]
        result = self.podman(
            "run", "-d", "--name", self.name, "--network", "host",
            "-e", "NBX_HTTP_PORT=%d" % self.http_port, "-e", "NBX_REDIS_PORT=%d" % self.redis_port, *dump,
            "-v", "%s:/nbx:ro" % IMAGE_DIR, "-v", "%s:/run/nbx" % self.state, image())
        self.container_id = result.stdout.strip()
        try:
            self.wait_ready(started)
        except Exception:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def wait_ready(self, started: float) -> None:
        deadline = started + self.start_timeout
        while time.monotonic() < deadline:
            state = self.podman("inspect", "--format", "{{.State.Running}}", self.container_id, check=False)
            if state.stdout.strip() != "true":
                raise RuntimeError("NetBox container %s stopped during start:\n%s" % (self.name, self.logs()))
            if os.path.exists(os.path.join(self.state, "token")):
                try:
                    answer = requests.get(self.url + "/api/status/", timeout=30,
                                          headers={"Authorization": "Bearer " + self.token,
                                                   "Accept": "application/json"})
                    if answer.status_code == 200:
                        return
                except (requests.ConnectionError, requests.Timeout):
                    pass
            time.sleep(0.5)
        raise RuntimeError("NetBox container %s not ready after %d s:\n%s" % (self.name, self.start_timeout,
                                                                              self.logs()))

    def save_database(self, path: str) -> None:
        """Writes NetBox's database as a pg_dump archive to path (atomically), to be restored by a later start."""
        with open(path + ".tmp", "wb") as handle:
            subprocess.run(["podman", "exec", self.container_id, "pg_dump", "-h", "/run/nbx-pg", "-U", "netbox",
                            "-Fc", "netbox"], env=self.env, check=True, stdout=handle)
        os.replace(path + ".tmp", path)

    def logs(self) -> str:
        return self.podman("logs", "--tail", "40", self.container_id, check=False).stdout[-4000:]

    def stop(self) -> None:
        if self.container_id:
            self.podman("rm", "-f", "-t", "2", self.container_id, check=False)
            self.container_id = None
        subprocess.run(["rm", "-rf", self.state], check=False)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
