"""seed-002's OriginateCall: the agent's phones (or a queue's members) first, then the
customer, bridged; or the customer into a context's call flow."""
