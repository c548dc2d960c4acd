"""odtc.dialects."""
