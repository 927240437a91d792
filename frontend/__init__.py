"""The Reflex portal. Not built yet."""
