"""odtc.tools."""
