"""Call control and notify for numbers (the seed-004 contract).

- :mod:`.plan` and :mod:`.plan_parser`: the XML answer (``<Forward>``, ``<Reject>``,
  ``<Hangup>``, ``<Queue>``) as values, parsed with defusedxml (pure).
- :mod:`.credentials`: ``https://user:pass@host/`` becomes a clean URL and a Basic header.
- :mod:`.control_client`: asks the number's ``control_url``, with retries 100 ms apart.
- :mod:`.notify`: the ``IncomingCall``/``CallAccepted``/``HungUp`` posts, through the outbox.
- :mod:`.forward` and :mod:`.executor`: a plan run on the caller's leg.
- :mod:`.controlled_call`: one inbound call to a number under call control, end to end.
"""
