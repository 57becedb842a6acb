"""Real SIP peers for tests: SIPp (:mod:`peers.sipp`) and baresip (:mod:`peers.baresip`)."""
