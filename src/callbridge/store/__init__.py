"""Persistence: calls, their events, the webhook outbox, recordings and API keys."""
