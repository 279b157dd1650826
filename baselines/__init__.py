"""Distillers other than Mirage: coresets (full, random) now; herding, DosCond, KiDD later."""
