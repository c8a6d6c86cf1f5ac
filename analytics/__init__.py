"""ChurnLens analytics: pure-Python churn analytics (no UI imports, no I/O at import time)."""

__version__ = "0.2.0"
