"""Addresses and timers of the test engine (a module of its own: ``conftest`` is ambiguous
across test folders)."""

from callbridge.sip.transaction import Timers

ENGINE_HOST = "127.0.0.1"
ENGINE_PORT = 5071
FAST_TIMERS = Timers(t1=0.1, t2=0.4, t4=0.5, d=1.0)
USERS = (("1001", "secret1001"), ("1002", "secret1002"))
TRUNK_HOST = "127.0.10.2"
TRUNK_PORT = 5060
