"""Status-callback webhooks: parameters, signing, requests, and the outbox dispatcher."""
