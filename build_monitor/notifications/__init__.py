"""Notifications: events, messages, routing, deduplication (pure) — the senders are blocks."""
