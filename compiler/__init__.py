"""odtc.compiler."""
