"""The live service the mc2 Python tests run against: three parties (bank-a, bank-b as
recipients; mallory outside the policy), a consortium policy pinning the built enclave, and
`mc2 start` on a free loopback port, as tests/cli/lib.sh's start_service does. Needs MC2_BIN
and MC2_BUILD (set by ctest) and MC2_LIB (libmc2.so)."""
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

MC2 = os.environ.get("MC2_BIN", "")
BUILD = os.environ.get("MC2_BUILD", "")


def run(*args, **kw):
    r = subprocess.run([MC2, *args], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"mc2 {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, work):
        self.work = work
        self.dir = os.path.join(work, "service")
        self.policy = os.path.join(work, "consortium.yaml")
        self.address = None

    def home(self, party):
        return os.path.join(self.work, party)

    def start(self):
        for _ in range(5):
            self.address = f"127.0.0.1:{free_port()}"
            r = subprocess.run([MC2, "start", "--policy", self.policy, "--dir", self.dir,
                                "--listen", self.address], capture_output=True, text=True)
            if r.returncode == 0:
                return
            if "cannot listen" not in r.stderr:
                raise RuntimeError(f"mc2 start: {r.stderr}")
        raise RuntimeError("mc2 start: no free port")

    def stop(self):
        subprocess.run([MC2, "stop", "--dir", self.dir], capture_output=True)


@pytest.fixture(scope="session")
def service():
    if not MC2 or not BUILD:
        pytest.skip("MC2_BIN and MC2_BUILD must point at the build (run through ctest)")
    work = tempfile.mkdtemp(prefix="mc2-py.")
    s = Service(work)
    try:
        for p in ("bank-a", "bank-b", "mallory"):
            run("init", "--name", p, "--home", s.home(p))
        pk = run("service", "init", "--dir", s.dir).strip()
        run("policy", "init", "--out", s.policy, "--consortium", "py-test",
            "--party", f"bank-a={s.home('bank-a')}/identity.crt",
            "--party", f"bank-b={s.home('bank-b')}/identity.crt",
            "--recipient", "bank-a", "--recipient", "bank-b",
            "--enclave", os.path.join(BUILD, "mc2-enclave"), "--allow-simulation",
            "--sim-platform-key", pk)
        for p in ("bank-a", "bank-b", "mallory"):
            shutil.copy(s.policy, os.path.join(s.home(p), "consortium.yaml"))
        s.start()
        os.environ["MC2_SERVICE"] = s.address
        yield s
    finally:
        s.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def bank_a(service):
    import mc2
    with mc2.Client(home=service.home("bank-a"), service=service.address) as c:
        yield c


@pytest.fixture(scope="session")
def bank_b(service):
    import mc2
    with mc2.Client(home=service.home("bank-b"), service=service.address) as c:
        yield c
