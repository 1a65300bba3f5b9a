"""memento-graph: an LLM agent that learns from experience through a case bank."""

__version__ = "0.1.0"
