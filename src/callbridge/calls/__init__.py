"""The application layer: places and tracks calls for the HTTP APIs (engine + call flow + store)."""
