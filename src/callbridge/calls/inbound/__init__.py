"""Inbound calls as policy above the engine: what a call from a trunk to a configured
number does (a voice application, a user, a line, a forward), and who handles the rest."""
