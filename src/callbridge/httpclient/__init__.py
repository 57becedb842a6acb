"""Outgoing HTTP: webhooks, voice-application documents and audio downloads."""
