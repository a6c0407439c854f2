"""Placeholder until the processor lands: claims nothing."""


def run():
    return 0
