"""Anthropic Messages ↔ OpenAI Chat Completions: pure functions and the stream state machine."""
