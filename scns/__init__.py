"""scns: a lightweight, reliable batch job scheduler for one machine or a small cluster."""

__version__ = "0.1.0"
