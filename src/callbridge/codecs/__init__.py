"""Audio formats shared by ``rtp/``, ``sip/sdp`` and ``media/``: the leaf they all import.

``formats`` (the G.711 payload types, telephone-event, the 20 ms frame), ``g711`` (the
codecs and their transcoding tables) and ``stream`` (what an SDP offer/answer agreed on).
It imports nothing else of Callbridge, so no package cycle can run through it.
"""
