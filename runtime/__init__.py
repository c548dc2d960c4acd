"""odtc.runtime."""
